//! `weft import` and `weft export`: goldens for each source and target,
//! round trips over every real Meshery design in the fixtures, and the
//! OCI tarball read back through weft's loader and through `tar`.
//! Regenerate the goldens (`tests/golden/import/`, `tests/golden/export/`)
//! with `WEFT_UPDATE_GOLDEN=1 cargo test -p weft --test import_export`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Secret values of the fixtures that must never reach the terminal.
const SECRET_VALUES: [&str; 4] = ["YWRtaW4=", "LS0tLS1CRUdJTiBSU0Eg", "myapp_db", "POSTGRES_PASSWORD: secret"];

fn text_of(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn parse_yaml(text: &str) -> Value {
    let docs = weft::load::yaml::parse_stream("out", text, &Default::default()).unwrap_or_else(|d| panic!("{}: {text}", d.message));
    assert_eq!(docs.len(), 1, "one document expected:\n{text}");
    docs[0].to_json()
}

fn parse_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|e| e == "json") { serde_json::from_str(&text).unwrap() } else { parse_yaml(&text) }
}

/// `weft import ARGS -o DIR/NAME` run in the repository root: the exit
/// code, stderr, and the written text (empty when nothing was written).
fn import(args: &[&str], dir: &Path, name: &str) -> (i32, String, String) {
    let out = dir.join(name);
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    let out_text = out.to_string_lossy().into_owned();
    all.extend(["-o", &out_text]);
    let output = weft(&all, &repo_root());
    let (_, stderr) = text_of(&output);
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    (output.status.code().unwrap(), stderr, written)
}

/// An import that wrote its design: exit 0, or exit 1 because the design
/// has errors, which the last line says (the design is written anyway, as
/// the place to fix them).
fn assert_imported(status: i32, stderr: &str, context: &str) {
    match status {
        0 => assert!(!stderr.contains("error(s) to fix"), "{context}: {stderr}"),
        1 => assert!(stderr.trim_end().lines().last().is_some_and(|l| l.contains("error(s) to fix before it applies")) && stderr.contains("error["), "{context}: {stderr}"),
        other => panic!("{context}: exit {other}: {stderr}"),
    }
}

fn export(design: &str, to: &str, out: &Path) -> (i32, String) {
    let output = weft(&["export", design, "--to", to, "-o", &out.to_string_lossy()], &repo_root());
    (output.status.code().unwrap(), text_of(&output).1)
}

fn assert_no_secret_values(stderr: &str) {
    for value in SECRET_VALUES {
        assert!(!stderr.contains(value), "a secret value reached the terminal:\n{stderr}");
    }
}

fn kinds(design: &Value) -> Vec<String> {
    design["components"].as_array().unwrap().iter().map(|c| format!("{}/{}", c["component"]["kind"].as_str().unwrap(), c["displayName"].as_str().unwrap())).collect()
}

fn validates_cleanly(path: &Path) {
    let (status, report) = validate_json(&[&path.to_string_lossy()], &repo_root());
    let errors: Vec<&Value> = diagnostics(&report).iter().filter(|d| d["severity"] == "error").collect();
    assert!(status == 0 && errors.is_empty(), "{} does not validate: {errors:#?}", path.display());
}

#[test]
fn compose_files_import_as_kompose_converts_them() {
    let dir = tempfile::tempdir().unwrap();
    for sample in ["valid-docker-compose", "valid-compose-2", "valid-compose-3"] {
        let (status, stderr, written) = import(&[&format!("tests/fixtures/import/{sample}.yml")], dir.path(), &format!("{sample}.yaml"));
        assert_eq!(status, 0, "{stderr}");
        assert_no_secret_values(&stderr);
        assert_golden(&format!("import/{sample}.yaml"), &written);
        validates_cleanly(&dir.path().join(format!("{sample}.yaml")));
    }
    let design = parse_file(&dir.path().join("valid-docker-compose.yaml"));
    assert_eq!(
        kinds(&design),
        ["PersistentVolumeClaim/web-claim0", "Deployment/web", "Service/web", "ConfigMap/db-env", "PersistentVolumeClaim/postgres-data", "Deployment/db"]
    );
    let web = &design["components"][1]["configuration"];
    assert_eq!(web["metadata"]["annotations"]["weft.io/depends-on"], "db");
    let db = &design["components"][5]["configuration"]["spec"]["template"]["spec"];
    assert_eq!(db["containers"][0]["envFrom"][0]["configMapRef"]["name"], "db-env");
    assert_eq!(db["volumes"][0]["persistentVolumeClaim"]["claimName"], "postgres-data");
    // The Service selects the Deployment: inference found it.
    let relationships = design["relationships"].as_array().unwrap();
    assert!(relationships.iter().any(|r| r["kind"] == "edge" && r["subType"] == "network"), "{relationships:#?}");

    let unconverted = design["metadata"]["unconverted"].as_array().unwrap();
    assert!(unconverted.iter().any(|n| n.as_str().unwrap().starts_with("line 12: services.web.networks: not converted")), "{unconverted:?}");
    let three = parse_file(&dir.path().join("valid-compose-3.yaml"));
    let notes: Vec<&str> = three["metadata"]["unconverted"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(notes.contains(&"line 4: services.backend.build: not converted: weft does not build images; build and push the image, then set `image`"), "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with("line 45: secrets: not converted")), "{notes:?}");
    let probe = &three["components"].as_array().unwrap().iter().find(|c| c["displayName"] == "db" && c["component"]["kind"] == "Deployment").unwrap()["configuration"]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"];
    assert_eq!(probe["periodSeconds"], 3);
    assert_eq!(probe["failureThreshold"], 5);
    assert_eq!(probe["exec"]["command"][0], "sh");
    let two = parse_file(&dir.path().join("valid-compose-2.yaml"));
    let minecraft = two["components"].as_array().unwrap().iter().find(|c| c["component"]["kind"] == "Deployment").unwrap();
    assert_eq!(minecraft["configuration"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"], "1536Mi", "Compose's G is GiB");
}

/// The object of `kind` named `name` among a design's components.
fn configuration_of<'a>(design: &'a Value, kind: &str, name: &str) -> &'a Value {
    let found = design["components"].as_array().unwrap().iter().find(|c| c["component"]["kind"] == kind && c["configuration"]["metadata"]["name"] == name);
    &found.unwrap_or_else(|| panic!("no {kind}/{name} in {:?}", kinds(design)))["configuration"]
}

#[test]
fn compose_files_of_unusual_shapes_convert_as_compose_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("compose.yml");
    // Compose reads YAML 1.2: `N`, `on` and `yes` are text there, not the
    // booleans of Kubernetes' YAML 1.1. (Two keys YAML 1.1 reads as one
    // boolean, `Y` and `on`, are still a duplicate key for the loader.)
    let text = r#"services:
  my_db:
    image: postgres:17
    environment:
      N: 5
      on: 7
      ENABLED: yes
      DEBUG: true
      QUOTED: "no"
    labels: {tier: on}
    expose: ["5432", "4000/udp"]
    volumes:
      - {type: bind, source: config, target: /cfg}
  my-db:
    image: redis:7
    ports: ["6379:6379", {target: 80, published: "8080-8081"}]
    environment: {PRICE: "5$$", URL: "${REDIS_URL}"}
    healthcheck: {test: ["CMD-SHELL", "echo $$HOSTNAME"]}
"#;
    std::fs::write(&source, text).unwrap();
    let (status, stderr, written) = import(&[&source.to_string_lossy()], dir.path(), "out.yaml");
    assert_eq!(status, 0, "{stderr}");
    let design = parse_yaml(&written);
    let env = &configuration_of(&design, "ConfigMap", "my-db-env")["data"];
    assert_eq!(env, &json!({"N": "5", "on": "7", "ENABLED": "yes", "DEBUG": "true", "QUOTED": "no"}));
    assert_eq!(configuration_of(&design, "Deployment", "my-db")["metadata"]["annotations"], json!({"tier": "on"}));
    // `expose: 4000/udp` is a UDP port.
    let ports = &configuration_of(&design, "Service", "my-db")["spec"]["ports"];
    assert_eq!(ports[1], json!({"name": "4000-udp", "port": 4000, "targetPort": 4000, "protocol": "UDP"}), "{ports}");
    // A bind mount written in the long syntax is a bind mount, whatever its path.
    assert!(stderr.contains("line 13: services.my_db.volumes: converted in part: the bind mount"), "{stderr}");
    // `my_db` and `my-db` are one Kubernetes name: the second service's objects get their own.
    assert!(stderr.contains("services.my-db: renamed: `my-db` names another service's objects; this service's are named `my-db-2`"), "{stderr}");
    assert_eq!(configuration_of(&design, "Deployment", "my-db-2")["spec"]["template"]["spec"]["containers"][0]["image"], "redis:7");
    assert_eq!(configuration_of(&design, "Service", "my-db-2")["spec"]["selector"], json!({"io.kompose.service": "my-db-2"}));
    // A published range has no single Service port: it is named, not dropped silently.
    assert_eq!(configuration_of(&design, "Service", "my-db-2")["spec"]["ports"], json!([{"name": "6379", "port": 6379, "targetPort": 6379}]));
    assert!(stderr.contains("line 16: services.my-db.ports: not converted: port ranges"), "{stderr}");
    // `$$` is Compose's literal `$`, where Kubernetes expands nothing (a
    // ConfigMap, a probe); `${VAR}` is named as not interpolated, its value not shown.
    assert_eq!(configuration_of(&design, "ConfigMap", "my-db-2-env")["data"], json!({"PRICE": "5$", "URL": "${REDIS_URL}"}));
    let probe = &configuration_of(&design, "Deployment", "my-db-2")["spec"]["template"]["spec"]["containers"][0]["livenessProbe"];
    assert_eq!(probe["exec"]["command"], json!(["sh", "-c", "echo $HOSTNAME"]));
    assert!(stderr.contains("line 17: services.my-db.environment: converted in part: `${...}` and `$VAR` are not interpolated"), "{stderr}");
    assert!(!stderr.contains("line 18:") && !stderr.contains("REDIS_URL"), "{stderr}");
    validates_cleanly(&dir.path().join("out.yaml"));
}

#[test]
fn compose_replica_counts_and_disabled_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("compose.yml");
    let text = r#"services:
  web:
    image: nginx:1.27
    scale: 3
    healthcheck: {test: ["NONE"]}
  worker:
    image: busybox:1.37
    scale: 2
    deploy: {replicas: 4}
  broken:
    image: busybox:1.37
    deploy: {replicas: -1}
"#;
    std::fs::write(&source, text).unwrap();
    let (status, stderr, written) = import(&[&source.to_string_lossy()], dir.path(), "out.yaml");
    assert_eq!(status, 0, "{stderr}");
    let design = parse_yaml(&written);
    let replicas = |name: &str| configuration_of(&design, "Deployment", name)["spec"]["replicas"].clone();
    assert_eq!(replicas("web"), 3, "the older `scale` is the replica count");
    assert_eq!(replicas("worker"), 4, "deploy.replicas wins over scale");
    assert_eq!(replicas("broken"), 1);
    assert!(stderr.contains("line 12: services.broken.deploy.replicas: not converted: not a number of replicas; the Deployment runs 1"), "{stderr}");
    // `test: ["NONE"]` turns the check off: no probe, and nothing to report.
    assert!(configuration_of(&design, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0].get("livenessProbe").is_none());
    assert!(!stderr.contains("services.web.healthcheck"), "{stderr}");
}

#[test]
fn manifests_import_with_their_relationships_inferred() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, written) = import(&["tests/fixtures/import/manifest-with-crds.yml"], dir.path(), "crds.yaml");
    // Meshery's sample has containers without names: written, and exit 1.
    assert_eq!(status, 1, "{stderr}");
    assert_imported(status, &stderr, "manifest-with-crds");
    assert_golden("import/manifest-with-crds.yaml", &written);
    let design = parse_yaml(&written);
    assert_eq!(design["schemaVersion"], "designs.meshery.io/v1beta1");
    assert_eq!(design["name"], "manifest-with-crds");
    assert_eq!(design["components"].as_array().unwrap().len(), 23);
    // Ids are the loader's: the same objects keep their ids in any file.
    let runner = design["components"].as_array().unwrap().iter().find(|c| c["component"]["kind"] == "GithubActionRunner").unwrap();
    assert_eq!(runner["id"], weft::load::object_id("garo.tietoevry.com", "GithubActionRunner", Some("default"), "github-action-runner-ds"));
    assert!(!design["relationships"].as_array().unwrap().is_empty());

    // A sample whose manifests break the schema still imports (exit 1);
    // the problems are reported with their positions.
    let (status, stderr, written) = import(&["tests/fixtures/import/valid_manifest.yml"], dir.path(), "manifest.yaml");
    assert_eq!(status, 1, "{stderr}");
    assert_imported(status, &stderr, "valid_manifest");
    assert!(stderr.contains("tests/fixtures/import/valid_manifest.yml:12:5"), "{stderr}");
    assert!(stderr.contains("more findings"), "{stderr}");
    assert_golden("import/valid_manifest.yaml", &written);
    assert_eq!(parse_yaml(&written)["components"].as_array().unwrap().len(), 43);
}

#[test]
fn a_folder_of_manifests_becomes_one_design_with_the_folder_name() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("shop");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("a.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n").unwrap();
    std::fs::write(source.join("b.yaml"), "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web, labels: {app: web}}\n  spec:\n    selector: {matchLabels: {app: web}}\n    template:\n      metadata: {labels: {app: web}}\n      spec: {containers: [{name: web, image: nginx:1.27}]}\n").unwrap();
    let (status, stderr, written) = import(&[&source.to_string_lossy()], dir.path(), "out.json");
    assert_eq!(status, 0, "{stderr}");
    let design: Value = serde_json::from_str(&written).expect("a .json output is JSON");
    assert_eq!(design["name"], "shop");
    assert_eq!(kinds(&design), ["Service/web", "Deployment/web"]);
    assert_eq!(design["relationships"].as_array().unwrap().len(), 1, "the Service selects the Deployment");
}

#[test]
fn kustomize_archives_and_folders_render_through_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    // Without kubectl the error says what to do, and weft could not run (2).
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["import", "tests/fixtures/import/wordpress-kustomize.tar.gz", "-o"])
        .arg(dir.path().join("none.yaml"))
        .current_dir(repo_root())
        .env("PATH", "")
        .output()
        .unwrap();
    let (_, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("kubectl is not on PATH") && stderr.contains("kustomize build"), "{stderr}");

    if Command::new("kubectl").arg("version").arg("--client").output().is_err() {
        // CI installs kubectl (.ci/run): there a missing one is a failure, not a skip.
        assert!(std::env::var_os("CI").is_none(), "kubectl must be installed in CI");
        eprintln!("kubectl is not installed: the Kustomize rendering is not tested here");
        return;
    }

    // An overlay over a base, in the features every kustomize since 2.0
    // renders alike (Debian's kubectl 1.20 and current ones).
    let (status, stderr, written) = import(&["tests/fixtures/import/kustomize-shop/overlays/production"], dir.path(), "shop.yaml");
    assert_eq!(status, 0, "{stderr}");
    assert_golden("import/kustomize-shop.yaml", &written);
    let design = parse_yaml(&written);
    assert_eq!(kinds(&design), ["ConfigMap/prod-web-config", "Service/prod-web", "Deployment/prod-web"]);
    let deployment = &design["components"][2]["configuration"];
    assert_eq!(deployment["spec"]["replicas"], 3, "the overlay's patch is applied");
    assert_eq!(deployment["metadata"]["namespace"], "shop");
    assert_eq!(deployment["spec"]["template"]["metadata"]["labels"]["env"], "production");
    assert_eq!(design["relationships"].as_array().unwrap().len(), 2, "the Service selects the Deployment, which reads the ConfigMap");
    validates_cleanly(&dir.path().join("shop.yaml"));
    // Naming the kustomization file itself renders its folder.
    let (status, stderr, file) = import(&["tests/fixtures/import/kustomize-shop/overlays/production/kustomization.yaml", "--name", "production"], dir.path(), "file.yaml");
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(parse_yaml(&file)["components"], design["components"]);

    // Meshery's sample uses `patches:`, which needs kustomize 3.1 or newer.
    // Where kubectl's kustomize cannot render it, weft says so with
    // kubectl's own words; where it can, the design is checked.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let status = Command::new("tar").arg("-xzf").arg(repo_root().join("tests/fixtures/import/wordpress-kustomize.tar.gz")).arg("-C").arg(&unpacked).status().unwrap();
    assert!(status.success());
    let kubectl_renders = Command::new("kubectl").arg("kustomize").arg(unpacked.join("wordpress")).output().unwrap().status.success();
    let (status, stderr, written) = import(&["tests/fixtures/import/wordpress-kustomize.tar.gz"], dir.path(), "wordpress.yaml");
    if !kubectl_renders {
        assert_eq!(status, 1, "{stderr}");
        assert!(stderr.contains("`kubectl kustomize") && stderr.contains("failed:"), "{stderr}");
        return;
    }
    assert_eq!(status, 0, "{stderr}");
    assert_no_secret_values(&stderr);
    assert_golden("import/wordpress-kustomize.yaml", &written);
    let design = parse_yaml(&written);
    assert_eq!(design["name"], "wordpress-kustomize");
    assert!(kinds(&design).contains(&"Secret/demo-mysql-pass".to_owned()), "{:?}", kinds(&design));
    validates_cleanly(&dir.path().join("wordpress.yaml"));
    // The same Kustomization as a folder gives the same components.
    let (status, stderr, folder) = import(&[&unpacked.join("wordpress").to_string_lossy(), "--name", "wordpress-kustomize"], dir.path(), "folder.yaml");
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(parse_yaml(&folder)["components"], design["components"]);
}

#[test]
fn rendered_helm_charts_import_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let rendered = std::fs::read(repo_root().join("tests/fixtures/import/nginx-ingress-rendered.yaml")).unwrap();
    let out = dir.path().join("nginx.yaml");
    let import_stdin = |input: &[u8], out: &Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["import", "-", "--name", "nginx-ingress", "-o"])
            .arg(out)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
        child.wait_with_output().unwrap()
    };
    let output = import_stdin(&rendered, &out);
    let (stdout, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.is_empty());
    assert_no_secret_values(&stderr);
    let written = std::fs::read_to_string(&out).unwrap();
    assert_golden("import/nginx-ingress-rendered.yaml", &written);
    let design = parse_yaml(&written);
    assert!(kinds(&design).contains(&"Secret/nginx-ingress-nginx-ingress-default-server-secret".to_owned()));
    // The chart (nginx-ingress 0.7.0) predates networking.k8s.io/v1 IngressClasses; that is all that is wrong with it.
    let (_, report) = validate_json(&[&out.to_string_lossy()], &repo_root());
    let errors: Vec<(&str, &str)> = diagnostics(&report).iter().filter(|d| d["severity"] == "error").map(|d| (d["code"].as_str().unwrap(), d["message"].as_str().unwrap())).collect();
    assert_eq!(errors, [("unknown-version", "IngressClass is not served at apiVersion `networking.k8s.io/v1beta1`")]);

    // Where helm is installed, its own `helm template` gives the same objects.
    if let Ok(helm) = Command::new("helm").args(["template", "nginx-ingress", "tests/fixtures/import/nginx-ingress-helm.tgz"]).current_dir(repo_root()).output() {
        assert!(helm.status.success(), "{}", String::from_utf8_lossy(&helm.stderr));
        let output = import_stdin(&helm.stdout, &dir.path().join("helm.yaml"));
        assert_eq!(output.status.code(), Some(0));
        let ids = |design: &Value| {
            let mut ids: Vec<String> = design["components"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&parse_file(&dir.path().join("helm.yaml"))), ids(&design));
    } else {
        eprintln!("helm is not installed: the checked-in rendering stands in for `helm template`");
    }
}

#[test]
fn standard_input_over_the_file_size_cap_is_refused_without_reading_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["import", "-", "-o"])
        .arg(dir.path().join("out.yaml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // 64 MiB of comments: weft stops reading past the 16 MiB cap, so the
    // writer may find the pipe closed.
    let writer = std::thread::spawn(move || {
        let chunk = "# padding\n".repeat(1 << 16);
        for _ in 0..(64 << 20) / chunk.len() {
            if std::io::Write::write_all(&mut stdin, chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let (_, stderr) = text_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("standard input is more than the 16777216 byte cap"), "{stderr}");
    assert!(!dir.path().join("out.yaml").exists());
}

#[test]
fn files_over_the_file_size_cap_are_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    // A sparse file of 1 GiB: reading it whole would take that much memory.
    let huge = dir.path().join("huge.yaml");
    std::fs::File::create(&huge).unwrap().set_len(1 << 30).unwrap();
    let (status, stderr, written) = import(&[&huge.to_string_lossy()], dir.path(), "out.yaml");
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("huge.yaml is more than the 16777216 byte cap"), "{stderr}");
    assert!(written.is_empty());
}

#[test]
fn helm_chart_archives_are_refused_with_the_way_to_import_them() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, written) = import(&["tests/fixtures/import/nginx-ingress-helm.tgz"], dir.path(), "chart.yaml");
    assert_eq!(status, 1, "{stderr}");
    assert!(written.is_empty());
    assert!(stderr.contains("is a Helm chart") && stderr.contains("helm template RELEASE tests/fixtures/import/nginx-ingress-helm.tgz | weft import -"), "{stderr}");
    let (status, stderr, _) = import(&["tests/fixtures/not-designs/valid-helm.tgz"], dir.path(), "chart.yaml");
    assert_eq!(status, 1, "{stderr}");
}

#[test]
fn inputs_that_are_not_importable_say_where_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, written) = import(&["tests/fixtures/meshery/meshkit-missing-name.yaml"], dir.path(), "x.yaml");
    assert_eq!(status, 1, "{stderr}");
    assert!(written.is_empty());
    assert!(stderr.contains("tests/fixtures/meshery/meshkit-missing-name.yaml:"), "positions of the loader: {stderr}");
    let (status, stderr, _) = import(&["tests/fixtures/meshery/meshkit-oci-extracted-artifacthub-pkg.yml"], dir.path(), "x.yaml");
    assert_eq!(status, 1);
    assert!(stderr.contains("neither a Meshery design, Kubernetes manifests, a Docker Compose file nor a Kustomization"), "{stderr}");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n").unwrap();
    let (status, stderr, _) = import(&[&broken.to_string_lossy()], dir.path(), "x.yaml");
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("broken.yaml:3:"), "{stderr}");
    // The working directory is named `.`, not left blank.
    let output = weft(&["import", ".", "-o", "dot.yaml"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let (_, stderr) = text_of(&output);
    assert!(stderr.contains("weft: error: . cannot be read"), "{stderr}");
    let (status, stderr, _) = import(&["tests/fixtures/import/does-not-exist.yaml"], dir.path(), "x.yaml");
    assert_eq!(status, 2, "{stderr}");
    // SOURCE and --from-cluster exclude each other; cluster flags need --from-cluster.
    assert_eq!(weft(&["import", "a.yaml", "--from-cluster", "-o", "x.yaml"], dir.path()).status.code(), Some(2));
    assert_eq!(weft(&["import", "a.yaml", "--namespace", "shop", "-o", "x.yaml"], dir.path()).status.code(), Some(2));
}

#[test]
fn secret_values_reach_the_design_file_and_never_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("secret.yaml");
    std::fs::write(&source, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: 987654321, token: [hunter2]}\nstringData: {x: {y: hunter3}}\n").unwrap();
    let (status, stderr, written) = import(&["-v", &source.to_string_lossy()], dir.path(), "out.yaml");
    assert_eq!(status, 1, "values of the wrong type are errors: {stderr}");
    assert_imported(status, &stderr, "secret.yaml");
    assert!(stderr.contains("secret.yaml:4:8"), "the problems are still reported where they are: {stderr}");
    for value in ["987654321", "hunter2", "hunter3"] {
        assert!(!stderr.contains(value), "{stderr}");
        assert!(written.contains(value), "the design keeps what the user asked to import");
    }
}

#[test]
fn oci_tarballs_import_as_the_design_they_carry() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, written) = import(&["tests/fixtures/meshery/meshkit-valid-design-oci.tar"], dir.path(), "oci.yaml");
    assert_eq!(status, 0, "{stderr}");
    assert_golden("import/meshkit-valid-design-oci.yaml", &written);
    let extracted = parse_file(&repo_root().join("tests/fixtures/meshery/meshkit-oci-extracted-design.yml"));
    assert_eq!(without_added_relationships(&parse_yaml(&written), &extracted), extracted);
}

#[test]
fn v1beta3_designs_carry_v1beta2_components_and_models() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, written) = import(&["tests/fixtures/import/valid-docker-compose.yml", "--schema-version", "v1beta3"], dir.path(), "v3.yaml");
    assert_eq!(status, 0, "{stderr}");
    let design = parse_yaml(&written);
    assert_eq!(design["schemaVersion"], "designs.meshery.io/v1beta3");
    for component in design["components"].as_array().unwrap() {
        assert_eq!(component["schemaVersion"], "components.meshery.io/v1beta2");
        assert_eq!(component["model"]["schemaVersion"], "models.meshery.io/v1beta2");
    }
    validates_cleanly(&dir.path().join("v3.yaml"));
    // And back: a v1beta3 design imports as v1beta1 when asked.
    let (status, stderr, back) = import(&[&dir.path().join("v3.yaml").to_string_lossy(), "--schema-version", "v1beta1"], dir.path(), "v1.yaml");
    assert_eq!(status, 0, "{stderr}");
    let back = parse_yaml(&back);
    assert_eq!(back["schemaVersion"], "designs.meshery.io/v1beta1");
    assert_eq!(back["components"][0]["model"]["schemaVersion"], "models.meshery.io/v1beta1");
}

/// `design` without the relationships `original` does not record.
fn without_added_relationships(design: &Value, original: &Value) -> Value {
    let mut design = design.clone();
    let recorded: Vec<&Value> = original["relationships"].as_array().map(|r| r.iter().map(|r| &r["id"]).collect()).unwrap_or_default();
    if let Some(relationships) = design.get_mut("relationships").and_then(Value::as_array_mut) {
        relationships.retain(|r| recorded.contains(&&r["id"]));
    }
    if original.get("relationships").is_some_and(Value::is_null) && design["relationships"] == json!([]) {
        design["relationships"] = Value::Null;
    }
    design
}

/// Every design of the fixtures (copies of ../shared/data/meshery/designs
/// and designs-legacy): import, export as Meshery, compare.
fn meshery_designs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in ["meshery", "meshery-legacy"] {
        for entry in std::fs::read_dir(fixtures().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "MANIFEST.txt" || name.contains("artifacthub-pkg") || name == "meshkit-missing-name.yaml" {
                continue;
            }
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn every_meshery_design_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let designs = meshery_designs();
    assert!(designs.len() >= 12, "{designs:?}");
    for path in designs {
        let shown = path.strip_prefix(repo_root()).unwrap().to_string_lossy().into_owned();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let legacy = shown.contains("meshery-legacy") || name.contains("services-format");

        // Export as Meshery: a v1beta1/v1beta3 design comes back as written.
        let exported = dir.path().join(format!("{name}.exported.yaml"));
        let (status, stderr) = export(&shown, "meshery", &exported);
        assert_eq!(status, 0, "{shown}: {stderr}");
        let exported_value = parse_file(&exported);
        if !legacy && !name.ends_with(".tar") {
            let original = parse_file(&path);
            assert_eq!(exported_value, original, "{shown}: export changed the design");
            if !name.ends_with(".json") {
                assert_eq!(std::fs::read(&exported).unwrap(), std::fs::read(&path).unwrap(), "{shown}: an unchanged YAML design is written back byte for byte");
            }
        }

        // Import: the design as written plus the relationships inferred.
        let (import_status, stderr, written) = import(&[&shown], dir.path(), &format!("{name}.imported.yaml"));
        assert_imported(import_status, &stderr, &shown);
        let imported = parse_yaml(&written);
        if legacy {
            // Documented conversion: legacy `services:` → v1beta1, one component per service, ids kept.
            assert_eq!(imported["schemaVersion"], "designs.meshery.io/v1beta1", "{shown}");
            let repo = weft::load::load(&[path.clone()], &Default::default(), &weft::progress::Progress::hidden()).unwrap();
            let ids: Vec<&str> = repo.designs[0].components.iter().map(|c| c.id.as_str()).collect();
            let imported_ids: Vec<&str> = imported["components"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
            assert_eq!(imported_ids, ids, "{shown}");
            assert_eq!(exported_value, imported, "{shown}: exporting a legacy design converts it as importing does");
        } else {
            assert_eq!(without_added_relationships(&imported, &exported_value), exported_value, "{shown}: import changed more than the relationships");
        }
        for relationship in imported["relationships"].as_array().into_iter().flatten() {
            assert!(relationship["id"].is_string(), "{shown}");
        }

        // export → import → export is a fixed point.
        let imported_path = dir.path().join(format!("{name}.imported.yaml"));
        let again = dir.path().join(format!("{name}.again.yaml"));
        let (status, stderr) = export(&imported_path.to_string_lossy(), "meshery", &again);
        assert_eq!(status, 0, "{stderr}");
        assert_eq!(std::fs::read_to_string(&again).unwrap(), written, "{shown}: exporting an imported design changes it");
        let (again_status, stderr, reimported) = import(&[&again.to_string_lossy()], dir.path(), &format!("{name}.reimported.yaml"));
        assert_eq!(again_status, import_status, "{shown}: importing an imported design finds what the first import found: {stderr}");
        assert_eq!(parse_yaml(&reimported), imported, "{shown}: importing an imported design changes it");
    }
}

#[test]
fn legacy_designs_keep_positions_scopes_and_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, written) = import(&["tests/fixtures/meshery-legacy/schemas-artifacthub-kubernetes_basic-design.yml"], dir.path(), "basic.yaml");
    assert_imported(status, &stderr, "kubernetes_basic");
    let design = parse_yaml(&written);
    assert_eq!(design["name"], "kubernetes_basic");
    let components = design["components"].as_array().unwrap();
    let namespace = components.iter().find(|c| c["displayName"] == "helloah").unwrap();
    assert_eq!(namespace["id"], "26c19e46-5a2b-4d70-9ce3-f6620ae8ad01", "ids come from traits.meshmap.id");
    assert_eq!(namespace["metadata"]["isNamespaced"], false);
    let anchor = components.iter().find(|c| c["displayName"] == "AnchorNode").unwrap();
    assert_eq!(anchor["styles"]["position"], json!({"x": -107.97727272727273, "y": -145.30113636363637}));
    assert_eq!(anchor["metadata"]["dependsOn"], json!(["helloah"]));
}

#[test]
fn exports_to_manifests_render_as_weft_plans_them() {
    let dir = tempfile::tempdir().unwrap();
    for (design, golden) in [
        ("tests/fixtures/meshery/meshkit-valid_design.yml", "export/meshkit-valid_design.manifests.yaml"),
        ("tests/fixtures/meshery/emojivoto-services-format.yaml", "export/emojivoto-services-format.manifests.yaml"),
        ("tests/fixtures/formats/design-v1beta3.yaml", "export/design-v1beta3.manifests.yaml"),
        ("tests/fixtures/import/valid-docker-compose.yml", "export/valid-docker-compose.manifests.yaml"),
    ] {
        let out = dir.path().join("out.yaml");
        let (status, stderr) = export(design, "manifests", &out);
        assert_eq!(status, 0, "{design}: {stderr}");
        let text = std::fs::read_to_string(&out).unwrap();
        assert_golden(golden, &text);
        // The manifests are what weft's loader reads as objects, and they validate.
        validates_cleanly(&out);
    }

    // The same objects `weft plan` renders, less what only an apply adds.
    let registry = weft::model::Registry::open(&weft::model::Registry::shipped_dir().into_iter().collect::<Vec<_>>()).unwrap();
    for fixture in ["meshery/meshkit-valid_design.yml", "formats/design-v1beta3.yaml", "manifests/online-boutique.yaml", "meshery/emojivoto-services-format.yaml"] {
        let mut repo = weft::load::load(&[fixtures().join(fixture)], &Default::default(), &weft::progress::Progress::hidden()).unwrap();
        let exported = weft::export::manifest_objects(&repo.designs, &registry);
        let inventory = weft::render::Inventory::new("test", "default");
        let rendered: Vec<Value> = weft::render::render(&mut repo.designs, &registry, &inventory)
            .iter()
            .map(|d| {
                let mut object = d.value();
                let metadata = object["metadata"].as_object_mut().unwrap();
                for (key, added) in [("labels", [weft::render::MANAGED_BY_LABEL, weft::render::PART_OF_LABEL].as_slice()), ("annotations", [weft::render::HASH_ANNOTATION].as_slice())] {
                    let map = metadata[key].as_object_mut().unwrap();
                    for name in added {
                        map.shift_remove(*name);
                    }
                    if map.is_empty() {
                        metadata.shift_remove(key);
                    }
                }
                object
            })
            .collect();
        let exported: Vec<Value> = exported.into_iter().map(|mut o| {
            // Rendering adds empty label and annotation maps only to fill them.
            for key in ["labels", "annotations"] {
                if o["metadata"].get(key).is_some_and(|m| m.as_object().is_some_and(|m| m.is_empty())) {
                    o["metadata"].as_object_mut().unwrap().shift_remove(key);
                }
            }
            o
        }).collect();
        assert_eq!(exported, rendered, "{fixture}");
    }

    // A design `weft plan` would refuse is not exported as manifests: the
    // errors are shown at their lines and nothing is written.
    let out = dir.path().join("invalid.yaml");
    let (status, stderr) = export("tests/fixtures/meshery/meshkit-invalid-k8s.yaml", "manifests", &out);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("error[") && stderr.contains("meshkit-invalid-k8s.yaml:") && stderr.contains("weft: not exported"), "{stderr}");
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn exports_as_meshery_convert_what_is_not_a_meshery_design() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emojivoto.yaml");
    let (status, stderr) = export("tests/fixtures/meshery/emojivoto-services-format.yaml", "meshery", &out);
    assert_eq!(status, 0, "{stderr}");
    assert_golden("export/emojivoto-services-format.meshery.yaml", &std::fs::read_to_string(&out).unwrap());
    validates_cleanly(&out);
    // JSON in, JSON out: written back as it was.
    let json_out = dir.path().join("fixture.json");
    let fixture = "tests/fixtures/meshery/meshery-ui-fixture-service-deployment-edge-non-binding-network.json";
    let (status, stderr) = export(fixture, "meshery", &json_out);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(std::fs::read(&json_out).unwrap(), std::fs::read(repo_root().join(fixture)).unwrap());
}

#[test]
fn oci_exports_read_back_through_the_loader_and_tar() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("design.tar");
    let (status, stderr) = export("tests/fixtures/meshery/meshkit-valid_design.yml", "oci", &out);
    assert_eq!(status, 0, "{stderr}");
    let bytes = std::fs::read(&out).unwrap();
    // Reproducible: the same design gives the same bytes.
    let second = dir.path().join("again.tar");
    export("tests/fixtures/meshery/meshkit-valid_design.yml", "oci", &second);
    assert_eq!(std::fs::read(&second).unwrap(), bytes);

    // weft's loader reads it as the design it carries.
    let (designs, diagnostics) = weft::load::load_bytes("design.tar", &bytes, &Default::default());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(designs.len(), 1);
    assert_eq!(designs[0].name, "Valid Design");

    // And `tar` sees a docker-save layout: manifest.json naming one gzip layer holding design.yml.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    assert!(Command::new("tar").arg("-xf").arg(&out).arg("-C").arg(&unpacked).status().unwrap().success());
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(unpacked.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest[0]["RepoTags"], json!(["valid-design:0.0.1"]));
    let layer = manifest[0]["Layers"][0].as_str().unwrap();
    assert!(unpacked.join(manifest[0]["Config"].as_str().unwrap()).is_file());
    let layer_dir = dir.path().join("layer");
    std::fs::create_dir(&layer_dir).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(unpacked.join(layer)).arg("-C").arg(&layer_dir).status().unwrap().success());
    assert_eq!(parse_file(&layer_dir.join("design.yml")), parse_file(&repo_root().join("tests/fixtures/meshery/meshkit-valid_design.yml")));
    let package = std::fs::read_to_string(layer_dir.join("artifacthub-pkg.yml")).unwrap();
    assert_golden("export/meshkit-valid_design.artifacthub-pkg.yml", &package);
    // The fields Meshery writes, as in the package of Meshery's own sample.
    let sample = parse_file(&repo_root().join("tests/fixtures/meshery/meshkit-oci-extracted-artifacthub-pkg.yml"));
    let ours = parse_yaml(&package);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&sample));

    // Importing the tarball gives the design back.
    let (status, stderr, written) = import(&[&out.to_string_lossy()], dir.path(), "back.yaml");
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(parse_yaml(&written)["id"], parse_file(&repo_root().join("tests/fixtures/meshery/meshkit-valid_design.yml"))["id"]);
}

mod properties {
    use proptest::prelude::*;
    use serde_json::Value;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::from(n)),
            // Strings a YAML writer must quote: booleans of YAML 1.1, octal, nulls, numbers, indicators.
            prop::sample::select(vec!["yes", "no", "on", "off", "y", "N", "0644", "0x1f", "1e3", "null", "~", "", "- a", "a: b", "#x", "true", "1.0", ".inf", "2024-01-01", "'q'", "\"d\"", "multi\nline", " lead", "trail "])
                .prop_map(|s| Value::String(s.to_owned())),
            "[ -~]{0,12}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z][a-z0-9_.-]{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// What weft writes as YAML, weft (and so Kubernetes) reads back as the same value.
        #[test]
        fn yaml_output_reads_back_as_written(map in prop::collection::btree_map("[a-z]{1,6}", value(), 0..5)) {
            let value = Value::Object(map.into_iter().collect());
            let text = weft::export::to_yaml(&value).unwrap();
            let docs = weft::load::yaml::parse_stream("p", &text, &Default::default()).unwrap();
            prop_assert_eq!(docs[0].to_json(), value);
        }

        /// Any Compose-shaped input converts without panicking into objects
        /// that have a kind and a name.
        #[test]
        fn compose_conversion_never_panics(services in prop::collection::btree_map("[a-z_]{1,6}", value(), 1..4)) {
            let document = serde_json::json!({"services": services});
            let text = serde_json::to_string(&document).unwrap();
            let docs = weft::load::yaml::parse_stream("p", &text, &Default::default()).unwrap();
            let conversion = weft::import::compose::convert(&docs[0], &text);
            for object in &conversion.objects {
                prop_assert!(object["kind"].is_string());
                prop_assert!(object["metadata"]["name"].as_str().is_some_and(|n| !n.is_empty()));
            }
        }
    }
}
