-- Finding a service by its FQDN (the uniqueness check on create/update) without a scan.
CREATE INDEX services_fqdn ON services (domain, LOWER(name));
