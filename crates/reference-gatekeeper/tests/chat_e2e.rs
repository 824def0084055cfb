//! Two `gk` users chat through a running `gatekeeper` (both real processes):
//! text, a reply, a file, a reaction and its revoke, typing, receipts; and
//! the server's data holds none of the plaintext.

mod support;

use support::gk::{GatekeeperProc, Listener, gk};

#[test]
fn two_gk_users_chat_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gk-data");
    let config = dir.path().join("gatekeeper.yaml");
    std::fs::write(
        &config,
        format!(
            "gatekeeper_id: gatekeeper.example\nprofile: messenger\nlisten: 127.0.0.1:0\nchat_listen: 127.0.0.1:0\ndata_dir: {}\n",
            data.display()
        ),
    )
    .unwrap();
    let server = GatekeeperProc::start(&config);
    let (anna, ben) = (dir.path().join("anna"), dir.path().join("ben"));
    let reg = |home: &std::path::Path, phone: &str, name: &str| {
        gk(home, &["register", phone, "--name", name, "--server", &server.http]).ok().json()
    };
    let anna_id = reg(&anna, "+491701234567", "Anna")["user"].as_str().unwrap().to_owned();
    let ben_id = reg(&ben, "+491709876543", "Ben")["user"].as_str().unwrap().to_owned();
    assert_eq!(anna_id, "491701234567@native");

    // Secret files are private.
    use std::os::unix::fs::PermissionsExt;
    for f in ["device.json", "pickle.key"] {
        let mode = std::fs::metadata(anna.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }

    let la = Listener::start(&anna);
    let lb = Listener::start(&ben);

    // Text with WhatsApp markup goes through as typed; Anna addresses Ben by phone.
    let secret_text = "Meet at *Kiosk 7* _sharp_ ~late~ `now`";
    let m1 = gk(&anna, &["send", "+491709876543", secret_text]).ok().json();
    let m1_id = m1["id"].as_str().unwrap().to_owned();
    let got = lb.wait_for("text", |v| v["event"] == "message" && v["id"] == m1_id.as_str());
    assert_eq!(got["text"], secret_text);
    assert_eq!(got["from"], anna_id.as_str());
    la.wait_for("delivered", |v| {
        v["event"] == "receipt" && v["receipt"] == "delivered" && v["ids"][0] == m1_id.as_str()
    });

    // Typing, then a reply.
    gk(&ben, &["typing", &anna_id, "on"]).ok();
    la.wait_for("typing", |v| {
        v["event"] == "typing" && v["state"] == "composing" && v["from"] == ben_id.as_str()
    });
    let reply_text = "Confirmed, bring the blue folder";
    let r = gk(&ben, &["reply", &anna_id, &m1_id, reply_text]).ok().json();
    let r_id = r["id"].as_str().unwrap().to_owned();
    let got = la.wait_for("reply", |v| v["event"] == "message" && v["id"] == r_id.as_str());
    assert_eq!(got["text"], reply_text);
    assert_eq!(got["reply_to"], m1_id.as_str());

    // Read receipt.
    gk(&anna, &["read", &ben_id, &r_id]).ok();
    lb.wait_for("read", |v| {
        v["event"] == "receipt" && v["receipt"] == "read" && v["ids"][0] == r_id.as_str()
    });

    // Reaction and its revoke.
    let re = gk(&anna, &["react", &ben_id, &r_id, "👍"]).ok().json();
    let got = lb.wait_for("reaction", |v| v["event"] == "reaction" && v["id"] == re["id"]);
    assert_eq!(
        (got["target"].as_str(), got["emoji"].as_str(), got["revoke"].as_bool()),
        (Some(r_id.as_str()), Some("👍"), Some(false))
    );
    let un = gk(&anna, &["unreact", &ben_id, &r_id]).ok().json();
    let got = lb.wait_for("revoke", |v| v["event"] == "reaction" && v["id"] == un["id"]);
    assert_eq!(got["revoke"], true);

    // Edit and delete (messenger profile).
    let ed = gk(&anna, &["edit", &ben_id, &m1_id, "Meet at Kiosk 8"]).ok().json();
    let got = lb.wait_for("edit", |v| v["event"] == "edit" && v["id"] == ed["id"]);
    assert_eq!(got["target"], m1_id.as_str());

    // A file.
    let file_secret = b"file body: the vault code is 8812-4471".repeat(100);
    let path = dir.path().join("plan.txt");
    std::fs::write(&path, &file_secret).unwrap();
    let f = gk(&anna, &["send-file", &ben_id, path.to_str().unwrap(), "--caption", "the plan"])
        .ok()
        .json();
    let got = lb.wait_for("file", |v| v["event"] == "message" && v["id"] == f["id"]);
    assert_eq!(got["text"], "the plan");
    let saved = got["media"]["path"].as_str().unwrap_or_else(|| panic!("file not saved: {got}"));
    assert_eq!(std::fs::read(saved).unwrap(), file_secret);
    assert_eq!(got["media"]["filename"], "plan.txt");

    let del = gk(&anna, &["delete", &ben_id, &m1_id]).ok().json();
    lb.wait_for("delete", |v| v["event"] == "delete" && v["id"] == del["id"]);

    la.stop();
    lb.stop();
    server.stop();

    // The server never saw plaintext: not in the database (incl. WAL), not in blobs.
    let needles: [&[u8]; 5] =
        [secret_text.as_bytes(), b"Kiosk", reply_text.as_bytes(), b"vault code", b"the plan"];
    for (file, bytes) in support::all_bytes(&data) {
        for n in needles {
            assert!(
                !support::contains(&bytes, n),
                "{file} contains {:?}",
                String::from_utf8_lossy(n)
            );
        }
    }
}

#[test]
fn gk_reports_refusals_with_exit_code_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatekeeper.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nchat_listen: 127.0.0.1:0\ndata_dir: {}\n",
            dir.path().join("d").display()
        ),
    )
    .unwrap();
    let server = GatekeeperProc::start(&config);
    let anna = dir.path().join("anna");
    let ben = dir.path().join("ben");
    gk(&anna, &["register", "+491701234567", "--name", "Anna", "--server", &server.http]).ok();
    gk(&ben, &["register", "+491709876543", "--name", "Ben", "--server", &server.http]).ok();
    gk(&ben, &["block", "+491701234567"]).ok();
    let out = gk(&anna, &["send", "+491709876543", "hi"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("refused: blocked"), "{out:?}");
    // WhatsApp profile: no edits.
    let out = gk(&anna, &["edit", "491709876543@native", "X", "new"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("edits"), "{out:?}");
    let out = gk(&anna, &["send", "+4900000000", "hi"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("no such user"), "{out:?}");
    gk(&ben, &["unblock", "+491701234567"]).ok();
    gk(&anna, &["send", "+491709876543", "hi"]).ok();
    server.stop();
}
