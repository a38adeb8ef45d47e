//! The Kubernetes example (`examples/kubernetes/`) is valid for the API it targets: every
//! manifest is checked against the Kubernetes OpenAPI schemas by `kubernetes-validate --strict`
//! (PyPI, pinned; `scripts/test` installs it into `target/kubernetes-validate`), where an unknown
//! field is an error, for the oldest and the newest Kubernetes the example supports. A
//! deliberately broken copy proves that the check rejects what it should.

use std::path::{Path, PathBuf};

use crate::support::command;

/// The Kubernetes versions the example is valid for: 1.33 made `backoffLimitPerIndex` GA.
const VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

/// The validator installed by `scripts/test`.
fn validator() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/kubernetes-validate/bin/kubernetes-validate");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test, which installs the pinned kubernetes-validate",
        bin.display()
    );
    bin
}

/// The manifests of the example, sorted.
fn manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/kubernetes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Runs the strict validator on `file` for `version`: `Ok` with its report when it exits 0
/// and reports every document as passed (an unknown kind is only a warning to it), else `Err`.
fn validate(file: &Path, version: &str) -> Result<String, String> {
    let out = command(validator())
        .args(["--strict", "--kubernetes-version", version])
        .arg(file)
        .output()
        .expect("run kubernetes-validate");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(file).expect("read manifest");
    let documents = text.split("\n---").filter(|d| d.contains("kind:")).count();
    let passed = report.matches(" passed for resource ").count();
    if out.status.success() && passed == documents && !report.contains("WARN") {
        Ok(report)
    } else {
        Err(report)
    }
}

#[test]
fn kubernetes_manifests_validate_strictly_against_the_api_schemas() {
    let files = manifests();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["cronjob.yaml", "namespace.yaml", "secret.yaml"]);
    for file in &files {
        for version in VERSIONS {
            if let Err(report) = validate(file, version) {
                panic!("{} for Kubernetes {version}:\n{report}", file.display());
            }
        }
    }
}

#[test]
fn the_manifest_check_rejects_unknown_fields_and_kinds() {
    let cronjob = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/cronjob.yaml");
    let text = std::fs::read_to_string(&cronjob).expect("read cronjob.yaml");
    let dir = tempfile::tempdir().expect("temp dir");
    // A misspelled field at the Job level, one deep inside the pod template, a wrong type and
    // a kind that does not exist.
    let broken = [
        (
            "parallelism: 4",
            "paralellism: 4",
            "'paralellism' was unexpected",
        ),
        (
            "readOnly: true",
            "readonly: true",
            "'readonly' was unexpected",
        ),
        (
            "completionMode: Indexed",
            "completionMode: 4",
            "is not of type",
        ),
        ("kind: CronJob", "kind: CronJobs", "Couldn't find schema"),
    ];
    for (from, to, why) in broken {
        assert!(text.contains(from), "cronjob.yaml no longer has `{from}`");
        let file = dir.path().join("broken.yaml");
        std::fs::write(&file, text.replacen(from, to, 1)).expect("write broken copy");
        match validate(&file, VERSIONS[1]) {
            Ok(report) => panic!("`{to}` was accepted:\n{report}"),
            Err(report) => assert!(report.contains(why), "`{to}`:\n{report}"),
        }
    }
}

/// The value of the last `INSTRUCTION` line of the Containerfile (the runtime stage's).
fn containerfile(instruction: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/Containerfile");
    let text = std::fs::read_to_string(path).expect("read Containerfile");
    let prefix = format!("{instruction} ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .next_back()
        .unwrap_or_else(|| panic!("no {instruction} in the Containerfile"))
        .trim()
        .to_owned()
}

#[test]
fn the_pod_runs_as_the_image_user_with_the_ssh_key_in_its_home() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/cronjob.yaml"),
    )
    .expect("read cronjob.yaml");
    let doc: serde_norway::Value = serde_norway::from_str(&text).expect("cronjob.yaml");
    let pod = &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    // `runAsNonRoot` needs a numeric USER; the pod names the same one.
    let user = containerfile("USER");
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    let context = &pod["securityContext"];
    assert_eq!(context["runAsUser"].as_u64(), uid.parse().ok());
    assert_eq!(context["runAsGroup"].as_u64(), gid.parse().ok());
    assert_eq!(context["runAsNonRoot"].as_bool(), Some(true));
    // git and ssh look for the key and known_hosts in `$HOME/.ssh`.
    let home = containerfile("ENV")
        .strip_prefix("HOME=")
        .expect("ENV HOME=...")
        .to_owned();
    let ssh = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["secret"]["secretName"].as_str() == Some("siteward-ssh"))
        .expect("the SSH Secret volume");
    assert_eq!(ssh["secret"]["defaultMode"].as_u64(), Some(0o400));
    let files: Vec<&str> = ssh["secret"]["items"]
        .as_sequence()
        .expect("items")
        .iter()
        .map(|i| i["path"].as_str().expect("path"))
        .collect();
    assert_eq!(files, ["id_ed25519", "known_hosts"]);
    let containers = [&pod["initContainers"][0], &pod["containers"][0]];
    for c in containers {
        let mount = c["volumeMounts"]
            .as_sequence()
            .expect("volumeMounts")
            .iter()
            .find(|m| m["name"] == ssh["name"])
            .unwrap_or_else(|| panic!("{:?} does not mount the SSH Secret", c["name"]));
        assert_eq!(
            mount["mountPath"].as_str(),
            Some(format!("{home}/.ssh").as_str())
        );
        assert_eq!(mount["readOnly"].as_bool(), Some(true));
    }
}
