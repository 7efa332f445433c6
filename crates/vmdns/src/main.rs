//! The `vmdns` binary: parses the command line and hands over to [`vmdns::cli`].

fn main() -> std::process::ExitCode {
    vmdns::cli::main()
}
