//! `deploy/`: the compose file, its Dockerfile and the files they mount agree with each other and
//! with what polyedge serves. No Docker here (no daemon, no registry): this checks what can be
//! checked without running the images — the compose file is valid YAML of the expected shape,
//! every file it mounts exists, every port one part expects is the port another part listens on,
//! every image is pinned, every required secret is in `.env.example`, and the polyedge
//! configuration it mounts is one `polyedge run` accepts. What it cannot show (the images
//! start) is said in docs/operations.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap();
    let mut docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one document", path.display());
    docs.remove(0)
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The value of `--flag value` or `--flag=value` in a command list.
fn flag(cmd: &[String], name: &str) -> Option<String> {
    let eq = format!("{name}=");
    cmd.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            cmd.get(i + 1).cloned()
        } else {
            a.strip_prefix(&eq).map(str::to_string)
        }
    })
}

#[test]
fn the_compose_file_its_dockerfile_and_the_files_it_mounts_agree() {
    let compose = yaml(&deploy().join("compose.yaml"));
    let services = &compose["services"];
    let names: BTreeSet<&str> = services
        .as_hash()
        .expect("services")
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["clickhouse", "grafana", "polyedge", "prometheus"])
    );
    let declared_volumes: BTreeSet<&str> = compose["volumes"]
        .as_hash()
        .expect("named volumes")
        .keys()
        .filter_map(Yaml::as_str)
        .collect();

    for name in &names {
        let s = &services[*name];
        // Loopback only: every service on the host's network (see the file's header).
        assert_eq!(s["network_mode"].as_str(), Some("host"), "{name}");
        assert_eq!(s["restart"].as_str(), Some("unless-stopped"), "{name}");
        // Pinned images.
        let image = s["image"].as_str().expect("image");
        let tag = image.rsplit_once(':').map(|(_, t)| t);
        assert!(
            tag.is_some_and(|t| t != "latest" && t.chars().any(|c| c.is_ascii_digit()))
                || *name == "polyedge",
            "{name}: image {image} is not pinned to a version"
        );
        // Every mount: a file or folder of deploy/ that exists, or a declared named volume.
        for v in strings(&s["volumes"]) {
            let src = v.split(':').next().unwrap();
            if src.starts_with('.') {
                let p = deploy().join(src);
                assert!(
                    p.exists(),
                    "{name} mounts {src}, which does not exist ({})",
                    p.display()
                );
            } else {
                assert!(
                    declared_volumes.contains(src),
                    "{name}: volume {src} is not declared"
                );
            }
        }
    }

    // Prometheus listens where Grafana's datasource looks, and scrapes where polyedge serves.
    let prom_cmd = strings(&services["prometheus"]["command"]);
    let prom_addr = flag(&prom_cmd, "--web.listen-address").expect("prometheus listen address");
    assert!(prom_addr.starts_with("127.0.0.1:"), "{prom_addr}");
    let ds = yaml(&deploy().join("grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(
        ds["datasources"][0]["url"].as_str(),
        Some(format!("http://{prom_addr}").as_str())
    );
    let dash = yaml(&deploy().join("grafana/provisioning/dashboards/polyedge.yml"));
    let dash_dir = dash["providers"][0]["options"]["path"].as_str().unwrap();
    assert!(
        strings(&services["grafana"]["volumes"])
            .iter()
            .any(|v| v.starts_with("./grafana/polyedge.json:")
                && v.split(':').nth(1).unwrap().starts_with(dash_dir)),
        "the dashboard is mounted where the provisioning looks ({dash_dir})"
    );
    let prom_yml = yaml(&deploy().join("prometheus/prometheus.yml"));
    let mounted: Vec<String> = strings(&services["prometheus"]["volumes"]);
    for rules in strings(&prom_yml["rule_files"]) {
        assert!(
            mounted
                .iter()
                .any(|v| v.contains(&format!("/etc/prometheus/{rules}"))),
            "rule file {rules} is not mounted beside prometheus.yml"
        );
    }
    let targets: Vec<String> = prom_yml["scrape_configs"]
        .as_vec()
        .unwrap()
        .iter()
        .flat_map(|j| strings(&j["static_configs"][0]["targets"]))
        .collect();
    let pe = &services["polyedge"];
    let pe_cmd = strings(&pe["command"]);
    assert_eq!(pe_cmd.first().map(String::as_str), Some("run"));
    let control = flag(&pe_cmd, "--control").expect("polyedge --control");
    assert!(
        targets.contains(&control),
        "prometheus does not scrape {control}: {targets:?}"
    );
    let health = strings(&pe["healthcheck"]["test"]);
    assert!(
        health
            .iter()
            .any(|a| a == &format!("http://{control}/health/live")),
        "{health:?}"
    );

    // The polyedge configuration it mounts is one `polyedge run` accepts, and it loads into the
    // ClickHouse of the compose file (default HTTP port 8123, loopback by loopback.xml).
    let config_path = flag(&pe_cmd, "--config").unwrap();
    let config_src = strings(&pe["volumes"])
        .into_iter()
        .find(|v| v.split(':').nth(1) == Some(config_path.as_str()))
        .expect("the --config file is mounted");
    let config_file = deploy().join(config_src.split(':').next().unwrap());
    let config = polyedge_runner::RunConfig::load(&config_file).unwrap();
    let ch = config
        .feeds
        .tables
        .clickhouse
        .as_deref()
        .expect("[tables] clickhouse");
    assert!(ch.starts_with("http://127.0.0.1:8123/"), "{ch}");
    let db = ch.rsplit('/').next().unwrap();
    assert_eq!(
        services["clickhouse"]["environment"]["CLICKHOUSE_DB"].as_str(),
        Some(db)
    );
    let listen = std::fs::read_to_string(deploy().join("clickhouse/loopback.xml")).unwrap();
    assert!(listen.contains("<listen_host>127.0.0.1</listen_host>"));
    let grafana_env = &services["grafana"]["environment"];
    assert_eq!(
        grafana_env["GF_SERVER_HTTP_ADDR"].as_str(),
        Some("127.0.0.1")
    );

    // Every secret the compose file requires (`${NAME:?…}`) is in .env.example, which the file
    // names with env_file; .env itself is ignored by git.
    let text = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    let example = std::fs::read_to_string(deploy().join(".env.example")).unwrap();
    let required: Vec<&str> = text
        .split("${")
        .skip(1)
        .filter_map(|s| s.split_once(":?").map(|(n, _)| n))
        .filter(|n| !n.contains('}'))
        .collect();
    assert!(required.len() >= 2, "{required:?}");
    for name in required {
        assert!(
            example.lines().any(|l| l.starts_with(&format!("{name}="))),
            "{name} is required by compose.yaml but not in .env.example"
        );
    }
    assert_eq!(pe["env_file"].as_str(), Some(".env"));
    let gitignore = std::fs::read_to_string(repo().join(".gitignore")).unwrap();
    assert!(
        gitignore.lines().any(|l| l == ".env"),
        "git must ignore .env files"
    );

    // The Dockerfile the compose file builds exists, builds the polyedge package and runs it.
    let build = &pe["build"];
    let context = deploy().join(build["context"].as_str().unwrap());
    let dockerfile = context.join(build["dockerfile"].as_str().unwrap());
    let df = std::fs::read_to_string(&dockerfile).unwrap();
    assert!(
        df.contains("cargo build --release --locked -p polyedge"),
        "{df}"
    );
    assert!(df.contains("ENTRYPOINT [\"polyedge\"]"));
    let manifest = std::fs::read_to_string(repo().join("crates/cli/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"polyedge\""));
    let ignore = std::fs::read_to_string(context.join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "target") && ignore.lines().any(|l| l == ".env"),
        "the build context leaves out target/ and secrets"
    );
}
