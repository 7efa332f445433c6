//! The `vmdns` binary as an operator runs it: output formats, exit codes, and the admin commands working
//! on the store without the server running.

use std::path::Path;
use std::process::{Command, Output};

use vmdns_core::{DnsName, RecordType};
use vmdns_providers::testing::pdns::PdnsServer;

fn vmdns(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmdns"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("VMDNS_DATABASE_URL")
        .env_remove("VMDNS_MASTER_KEY")
        .output()
        .expect("run vmdns")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn core_commands_print_what_scripts_expect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert_eq!(
        ok(vmdns(d, &["ptr-name", "192.168.130.10"])),
        "10.130.168.192.in-addr.arpa\n"
    );
    assert_eq!(
        ok(vmdns(d, &["ptr-name", "2001:db8::2"])).trim(),
        "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    );
    let first = |args: &[&str]| {
        ok(vmdns(d, args))
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        first(&["rdns-zone", "192.168.130.2/24"]),
        "130.168.192.in-addr.arpa"
    );
    assert_eq!(
        first(&["rdns-zone", "2001:db8::2/120"]),
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    );
    assert!(first(&["rdns-zone", "192.168.128.0/22"]).starts_with("spans 4 reverse zones:"));
    assert!(
        first(&["rdns-zone", "192.168.130.20/28"]).starts_with("classless delegation required")
    );
    let spans = ok(vmdns(d, &["rdns-zone", "192.168.128.0/22"]));
    assert!(spans.contains("\n131.168.192.in-addr.arpa\n"), "{spans}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(vmdns(d, &["rdns-zone", "192.168.130.20/28", "--json"])))
            .expect("json");
    assert_eq!(json["kind"], "classless");
    assert_eq!(json["zone"], "16/28.130.168.192.in-addr.arpa");
    assert_eq!(json["cnames"].as_array().map(Vec::len), Some(16));

    let records = ok(vmdns(
        d,
        &[
            "records",
            "--name",
            "5551-1776530141",
            "--domain",
            "puqcloud.com",
            "--ip",
            "192.168.130.10=mail.uuq.pl",
            "--ip",
            "2001:db8::2",
            "--zone",
            "puqcloud.com",
            "--zone",
            "puq.com",
            "--zone",
            "130.168.192.in-addr.arpa",
            "--ttl",
            "600",
        ],
    ));
    assert_eq!(
        records,
        "puqcloud.com 5551-1776530141.puqcloud.com A 600 192.168.130.10\n\
         puqcloud.com 5551-1776530141.puqcloud.com AAAA 600 2001:db8::2\n\
         130.168.192.in-addr.arpa 10.130.168.192.in-addr.arpa PTR 600 mail.uuq.pl\n"
    );
}

#[test]
fn bad_input_exits_2_with_a_message_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cases: &[(&[&str], &str)] = &[
        (&["ptr-name", "300.1.1.1"], "ip"),
        (&["rdns-zone", "192.0.2.1/33"], "prefix"),
        (&["rdns-zone", "192.0.2.1"], "prefix"),
        (&["rdns-zone", "nope/24"], "prefix"),
        (
            &[
                "records",
                "--name",
                "vm",
                "--domain",
                "exa..mple",
                "--ip",
                "192.0.2.1",
            ],
            "domain",
        ),
        (
            &["zone", "add", "--name", "example.com", "--provider", "bind"],
            "provider",
        ),
        (
            &[
                "zone",
                "add",
                "--name",
                "example.com",
                "--provider",
                "powerdns",
                "--set",
                "api_key=x",
            ],
            "settings.server_url",
        ),
        (
            &[
                "service",
                "add",
                "--name",
                "vm 1",
                "--domain",
                "example.com",
            ],
            "name",
        ),
        (
            &[
                "service",
                "add",
                "--name",
                "vm1",
                "--domain",
                "example.com",
                "--ip",
                "1.2.3",
            ],
            "addresses[0].ip",
        ),
    ];
    for (args, field) in cases {
        let o = vmdns(d, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(field), "{args:?}: {}", stderr(&o));
    }
    let missing = vmdns(d, &["zone", "show", "99"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("zone 99 not found"));
}

#[tokio::test]
async fn admin_commands_work_on_the_store_and_never_print_secrets() {
    let server = PdnsServer::start().await;
    let zone = DnsName::parse("cli.example.test").expect("zone");
    let rev = DnsName::parse("2.0.192.in-addr.arpa").expect("zone");
    server.create_zone(&zone).await;
    server.create_zone(&rev).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let url = format!("server_url={}", server.api_url());
    let key = format!("api_key={}", server.api_key());
    let run = |args: Vec<String>| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                vmdns(&d, &args.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .await
            .expect("join")
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let added = ok(run(s(&[
        "zone",
        "add",
        "--name",
        "cli.example.test.",
        "--provider",
        "powerdns",
        "--set",
        &url,
        "--set",
        &key,
        "--json",
    ]))
    .await);
    let z: serde_json::Value = serde_json::from_str(&added).expect("json");
    assert_eq!(z["name"], "cli.example.test");
    assert_eq!(z["settings"]["api_key"], "__KEEP__");
    ok(run(s(&[
        "zone",
        "add",
        "--name",
        rev.as_ref(),
        "--provider",
        "powerdns",
        "--set",
        &url,
        "--set",
        &key,
    ]))
    .await);
    let listed = ok(run(s(&["zone", "list"])).await);
    assert!(
        listed.contains("cli.example.test") && listed.contains("powerdns"),
        "{listed}"
    );
    assert!(!listed.contains(server.api_key()) && !added.contains(server.api_key()));

    let tested = ok(run(s(&["zone", "test", "1"])).await);
    assert!(tested.starts_with("OK: "), "{tested}");
    // A wrong key: exit 1 with the server's words; then an update without the key keeps the new one.
    ok(run(s(&["zone", "update", "1", "--set", "api_key=wrong-key"])).await);
    let bad = run(s(&["zone", "test", "1"])).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("Unauthorized"), "{}", stderr(&bad));
    assert!(!stderr(&bad).contains("wrong-key"));
    ok(run(s(&["zone", "update", "1", "--set", &key])).await);
    ok(run(s(&["zone", "update", "1", "--set", "server_id=localhost"])).await);
    assert!(ok(run(s(&["zone", "test", "1"])).await).starts_with("OK: "));

    let token = ok(run(s(&["token", "create", "--name", "ci"])).await);
    assert!(
        token.trim().starts_with("vmdns_") && token.lines().count() == 1,
        "{token}"
    );
    assert!(!ok(run(s(&["token", "list"])).await).contains(token.trim()));

    ok(run(s(&[
        "service",
        "add",
        "--name",
        "vm1",
        "--domain",
        "cli.example.test",
        "--ip",
        "192.0.2.10",
        "--ip",
        "2001:db8::10",
    ]))
    .await);
    let plan = ok(run(s(&["service", "plan", "1"])).await);
    assert!(
        plan.contains("create vm1.cli.example.test A 300 192.0.2.10"),
        "{plan}"
    );
    assert!(
        server
            .query(
                &DnsName::parse("vm1.cli.example.test").expect("n"),
                RecordType::A
            )
            .await
            .is_empty()
    );

    ok(run(s(&["service", "deploy", "1"])).await);
    let cron = ok(run(s(&["cron"])).await);
    assert!(
        cron.contains("fwd OK   create vm1.cli.example.test A 192.0.2.10"),
        "{cron}"
    );
    assert!(
        cron.contains("rev OK   create 10.2.0.192.in-addr.arpa PTR vm1.cli.example.test"),
        "{cron}"
    );
    assert!(cron.contains("summary: "), "{cron}");
    let a = server
        .query(
            &DnsName::parse("vm1.cli.example.test").expect("n"),
            RecordType::A,
        )
        .await;
    assert_eq!(a.into_iter().collect::<Vec<_>>(), ["192.0.2.10"]);

    // The zone test and the job never wrote the key anywhere in the data directory.
    for entry in std::fs::read_dir(&d).expect("dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !bytes
                .windows(server.api_key().len())
                .any(|w| w == server.api_key().as_bytes()),
            "{}",
            path.display()
        );
    }
}

#[tokio::test]
async fn resync_all_converges_every_service_and_guards_mass_deletion() {
    let server = PdnsServer::start().await;
    let zone = DnsName::parse("bulk.example.test").expect("zone");
    let rev = DnsName::parse("51.198.in-addr.arpa").expect("zone");
    server.create_zone(&zone).await;
    server.create_zone(&rev).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let run = |args: Vec<String>| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                vmdns(&d, &args.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .await
            .expect("join")
        }
    };
    let url = format!("server_url={}", server.api_url());
    let key = format!("api_key={}", server.api_key());
    for z in [zone.as_str(), rev.as_str()] {
        ok(run(vec![
            "zone".into(),
            "add".into(),
            "--name".into(),
            z.into(),
            "--provider".into(),
            "powerdns".into(),
            "--set".into(),
            url.clone(),
            "--set".into(),
            key.clone(),
        ])
        .await);
    }
    for i in 1..=5 {
        ok(run(vec![
            "service".into(),
            "add".into(),
            "--name".into(),
            format!("vm{i}"),
            "--domain".into(),
            zone.to_string(),
            "--ip".into(),
            format!("198.51.100.{i}"),
        ])
        .await);
    }
    let dry = ok(run(vec!["resync".into(), "--all".into(), "--dry-run".into()]).await);
    assert!(dry.contains("would create 5"), "{dry}");
    assert!(
        server
            .query(
                &DnsName::parse("vm1.bulk.example.test").expect("n"),
                RecordType::A
            )
            .await
            .is_empty()
    );

    let first = ok(run(vec!["resync".into(), "--all".into()]).await);
    assert!(first.contains("did create 5"), "{first}");
    let ptr = DnsName::parse("3.100.51.198.in-addr.arpa").expect("n");
    assert_eq!(
        server
            .query(&ptr, RecordType::Ptr)
            .await
            .into_iter()
            .collect::<Vec<_>>(),
        ["vm3.bulk.example.test"]
    );
    let again = ok(run(vec!["resync".into(), "--all".into()]).await);
    assert!(
        again.contains("did create 0, replace 0, delete 0; 5 unchanged"),
        "{again}"
    );

    // Four of five services move to other addresses: four of the five PTRs vmdns owns would go.
    for i in 1..=4 {
        ok(run(vec![
            "service".into(),
            "update".into(),
            i.to_string(),
            "--name".into(),
            format!("vm{i}"),
            "--domain".into(),
            zone.to_string(),
            "--ip".into(),
            format!("198.51.101.{i}"),
        ])
        .await);
    }
    let refused = run(vec!["resync".into(), "--all".into()]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    assert!(
        stdout(&refused).contains("would delete 4 of the 5 records"),
        "{}",
        stdout(&refused)
    );
    assert!(
        stdout(&refused).contains("1.100.51.198.in-addr.arpa PTR"),
        "{}",
        stdout(&refused)
    );
    let old = DnsName::parse("1.100.51.198.in-addr.arpa").expect("n");
    assert!(
        !server.query(&old, RecordType::Ptr).await.is_empty(),
        "nothing deleted without --force"
    );

    let forced = ok(run(vec!["resync".into(), "--all".into(), "--force".into()]).await);
    assert!(forced.contains("delete 4"), "{forced}");
    assert!(server.query(&old, RecordType::Ptr).await.is_empty());
    let new = DnsName::parse("1.101.51.198.in-addr.arpa").expect("n");
    assert_eq!(
        server
            .query(&new, RecordType::Ptr)
            .await
            .into_iter()
            .collect::<Vec<_>>(),
        ["vm1.bulk.example.test"]
    );
}
