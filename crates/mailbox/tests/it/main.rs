//! The mailbox served on loopback, driven over HTTP as nodes and strangers would.

use std::path::Path;

use courier_mailbox::registry::FolderId;
use courier_mailbox::routes::{SetupReply, Stored};
use courier_mailbox::token::Token;

/// A mailbox serving `dir` on a loopback port, until dropped.
struct Served {
    base: String,
    setup: Option<Token>,
    _background: courier_mailbox::serving::Background,
}

fn serve(dir: &Path) -> Served {
    let background =
        courier_mailbox::serving::in_background(dir, "127.0.0.1:0".parse().unwrap()).unwrap();
    Served {
        base: format!("http://{}", background.address),
        setup: background.setup.clone(),
        _background: background,
    }
}

/// One HTTP exchange: status and body.
fn call(base: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    try_call(base, method, path, token, body).unwrap()
}

/// [`call`], or how the connection failed.
fn try_call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<(u16, Vec<u8>), ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}{path}");
    let request = ureq::http::Request::builder().method(method).uri(&url);
    let request = match token {
        Some(t) => request.header("Authorization", format!("Bearer {t}")),
        None => request,
    };
    let mut response = agent.run(request.body(body.to_vec()).unwrap())?;
    let status = response.status().as_u16();
    let bytes = response.body_mut().read_to_vec()?;
    Ok((status, bytes))
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> T {
    serde_json::from_slice(body).unwrap()
}

impl Served {
    /// Sets the new mailbox up as its owner's node does: the owner's token.
    fn set_up(&self) -> String {
        let setup = self.setup.clone().expect("a new mailbox").to_hex();
        json::<SetupReply>(&call(&self.base, "PUT", "/v1/setup", Some(&setup), b"").1).token
    }

    /// Registers contact `id` (two hex digits, repeated) with a new token and new folders: their
    /// token and the path of their inbox's files.
    fn register(&self, owner: &str, id: &str) -> (String, String) {
        let (token, inbox) = (Token::generate().to_hex(), FolderId::generate());
        let body = serde_json::json!({
            "token": token, "inbox": inbox.as_str(), "outbox": FolderId::generate().as_str()
        });
        let path = format!("/v1/contacts/{}", id.repeat(16));
        let (status, _) = call(
            &self.base,
            "PUT",
            &path,
            Some(owner),
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 201);
        (token, format!("/v1/folders/{}/files", inbox.as_str()))
    }
}

#[test]
fn alice_sets_up_her_mailbox_bob_leaves_files_in_his_inbox_and_strangers_learn_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let base = &served.base;
    let setup = served
        .setup
        .clone()
        .expect("a new mailbox has a setup token");

    // Alice's node exchanges the setup token for her own; the reply is lost, so it asks again and
    // gets the same token; once she uses it, the setup token is nobody's.
    let (status, body) = call(base, "PUT", "/v1/setup", Some(&setup.to_hex()), b"");
    assert_eq!(status, 200);
    let owner = json::<SetupReply>(&body).token;
    let (_, again) = call(base, "PUT", "/v1/setup", Some(&setup.to_hex()), b"");
    assert_eq!(json::<SetupReply>(&again).token, owner);
    assert_eq!(call(base, "GET", "/v1/status", Some(&owner), b"").0, 204);
    assert_eq!(
        call(base, "PUT", "/v1/setup", Some(&setup.to_hex()), b"").0,
        401
    );

    // She registers bob and carol, each with a token and two folders.
    let (bob_token, carol_token) = (Token::generate().to_hex(), Token::generate().to_hex());
    let (bob_in, bob_out, carol_in, carol_out) = (
        FolderId::generate(),
        FolderId::generate(),
        FolderId::generate(),
        FolderId::generate(),
    );
    let register = |id: &str, token: &str, inbox: &FolderId, outbox: &FolderId| {
        let body = serde_json::json!({
            "token": token, "inbox": inbox.as_str(), "outbox": outbox.as_str()
        });
        call(
            base,
            "PUT",
            &format!("/v1/contacts/{id}"),
            Some(&owner),
            body.to_string().as_bytes(),
        )
        .0
    };
    assert_eq!(
        register(&"b0".repeat(16), &bob_token, &bob_in, &bob_out),
        201
    );
    assert_eq!(
        register(&"b0".repeat(16), &bob_token, &bob_in, &bob_out),
        200
    );
    assert_eq!(
        register(&"c0".repeat(16), &carol_token, &carol_in, &carol_out),
        201
    );

    // Bob leaves two files in his inbox while alice is away; alice lists them oldest first,
    // fetches and deletes each.
    let files = |folder: &FolderId| format!("/v1/folders/{}/files", folder.as_str());
    let first = vec![0x11u8; 1000];
    let (status, body) = call(base, "POST", &files(&bob_in), Some(&bob_token), &first);
    assert_eq!(status, 201);
    let first_name = json::<Stored>(&body).name;
    std::thread::sleep(std::time::Duration::from_millis(5));
    let (_, body) = call(base, "POST", &files(&bob_in), Some(&bob_token), b"second");
    let second_name = json::<Stored>(&body).name;
    let (status, body) = call(base, "GET", &files(&bob_in), Some(&owner), b"");
    assert_eq!(status, 200);
    let listing: serde_json::Value = json(&body);
    let names: Vec<&str> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [&first_name[..], &second_name[..]]);
    let one = format!("{}/{first_name}", files(&bob_in));
    assert_eq!(
        call(base, "GET", &one, Some(&owner), b""),
        (200, first.clone())
    );
    assert_eq!(call(base, "DELETE", &one, Some(&owner), b"").0, 204);
    assert_eq!(call(base, "GET", &one, Some(&owner), b"").0, 404);

    // Her reply waits in his outbox for him alone.
    assert_eq!(
        call(base, "POST", &files(&bob_out), Some(&owner), b"reply").0,
        201
    );
    assert_eq!(
        call(base, "GET", &files(&bob_out), Some(&bob_token), b"").0,
        200
    );

    // What a token may not use is a 404: bob reading his own inbox, carol's folders, a guessed
    // folder, a name that is no file's; carol reading bob's outbox; bob managing contacts.
    for (method, path, token) in [
        ("GET", files(&bob_in), &bob_token),
        ("POST", files(&bob_out), &bob_token),
        ("GET", files(&carol_out), &bob_token),
        ("POST", files(&carol_in), &bob_token),
        ("GET", files(&FolderId::generate()), &bob_token),
        (
            "GET",
            format!("{}/..%2Fregistry.json", files(&bob_out)),
            &bob_token,
        ),
        ("GET", files(&bob_out), &carol_token),
        ("GET", "/v1/contacts".to_owned(), &bob_token),
        ("DELETE", "/v1/mailbox".to_owned(), &bob_token),
        ("GET", "/v1/nothing-here".to_owned(), &owner),
    ] {
        assert_eq!(
            call(base, method, &path, Some(token), b"").0,
            404,
            "{method} {path}"
        );
    }

    // Without a token it knows, every request gets the same bare 401, whatever it asks.
    let wrong = Token::generate().to_hex();
    let mut answers = Vec::new();
    for (method, path, token) in [
        ("GET", "/".to_owned(), None),
        ("GET", "/v1/status".to_owned(), None),
        ("GET", "/v1/status".to_owned(), Some("not-a-token")),
        ("GET", "/v1/status".to_owned(), Some(wrong.as_str())),
        ("POST", files(&bob_in), Some(wrong.as_str())),
        ("GET", "/v1/folders".to_owned(), Some(wrong.as_str())),
        ("DELETE", "/v1/mailbox".to_owned(), None),
        ("PATCH", "/anything/at/all".to_owned(), None),
    ] {
        answers.push(call(base, method, &path, token, b"{}"));
    }
    assert!(
        answers.iter().all(|a| *a == (401, Vec::new())),
        "{answers:?}"
    );

    // Any token reads the API's own document; without one, it too is a bare 401.
    let (status, body) = call(base, "GET", "/v1/openapi.json", Some(&bob_token), b"");
    assert_eq!(status, 200);
    let document: serde_json::Value = json(&body);
    let paths: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/contacts",
            "/v1/contacts/{id}",
            "/v1/folders",
            "/v1/folders/{folder}/files",
            "/v1/folders/{folder}/files/{name}",
            "/v1/mailbox",
            "/v1/setup",
            "/v1/status",
        ]
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        call(base, "GET", "/v1/openapi.json", None, b""),
        (401, Vec::new())
    );

    // What its disk holds names no token, in hex or in bytes: the mailbox keeps digests.
    let tokens = [
        setup.to_hex(),
        owner.clone(),
        bob_token.clone(),
        carol_token.clone(),
    ];
    let secrets: Vec<Vec<u8>> = tokens
        .iter()
        .flat_map(|t| [t.as_bytes().to_vec(), hex::decode(t).unwrap()])
        .collect();
    let secrets: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
    assert_eq!(
        courier_tor_net::files_holding(dir.path(), &secrets),
        Vec::<std::path::PathBuf>::new()
    );

    // Alice removes carol; her token opens nothing any more.
    let carol = format!("/v1/contacts/{}", "c0".repeat(16));
    assert_eq!(call(base, "DELETE", &carol, Some(&owner), b"").0, 204);
    assert_eq!(
        call(base, "GET", "/v1/status", Some(&carol_token), b"").0,
        401
    );
}

#[test]
fn bob_floods_alice_s_mailbox_and_it_refuses_past_the_limits_and_still_takes_carol_s_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mailbox.toml"),
        "max-file-bytes = 1000\nfolder-quota-bytes = 3000\ntotal-quota-bytes = 5000\nuploads-per-minute = 10\n",
    )
    .unwrap();
    let served = serve(dir.path());
    let base = &served.base;
    let owner = served.set_up();
    let ((bob, bob_inbox), (carol, carol_inbox)) =
        (served.register(&owner, "b0"), served.register(&owner, "c0"));
    let inboxes = [bob_inbox, carol_inbox];
    let (bob, carol) = (&bob, &carol);

    // Oversize: refused before anything is stored.
    let (status, body) = call(base, "POST", &inboxes[0], Some(bob), &[0u8; 1001]);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    // Far past the limit, the mailbox answers 413 as soon as it has the headers and closes the
    // connection: the client may see the answer or only the closed connection.
    match try_call(base, "POST", &inboxes[0], Some(bob), &vec![0u8; 2_000_000]) {
        Ok((status, _)) => assert_eq!(status, 413),
        Err(ureq::Error::Io(e)) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
        Err(e) => panic!("{e}"),
    }
    assert_eq!(walk(&dir.path().join("folders")), 0);
    // Three files fill his folder; the fourth is refused by the folder's quota.
    for _ in 0..3 {
        assert_eq!(
            call(base, "POST", &inboxes[0], Some(bob), &[1u8; 1000]).0,
            201
        );
    }
    let (status, body) = call(base, "POST", &inboxes[0], Some(bob), &[1u8; 10]);
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("folder quota"));
    // Carol's files still go in, up to the mailbox's total.
    assert_eq!(
        call(base, "POST", &inboxes[1], Some(carol), &[2u8; 1000]).0,
        201
    );
    assert_eq!(
        call(base, "POST", &inboxes[1], Some(carol), &[2u8; 1000]).0,
        201
    );
    let (status, body) = call(base, "POST", &inboxes[1], Some(carol), &[2u8; 10]);
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("mailbox quota"));
    // Bob's uploads past ten a minute (refused ones count) are refused with a time to come back.
    let mut limited = None;
    for _ in 0..10 {
        let (status, _) = call(base, "POST", &inboxes[0], Some(bob), &[1u8; 1]);
        if status == 429 {
            limited = Some(status);
            break;
        }
    }
    assert_eq!(limited, Some(429));
    // What the disk holds is within the quota.
    let held: u64 = walk(&dir.path().join("folders"));
    assert!(held <= 5000, "{held}");
}

/// Bytes of every file under `dir`.
fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                walk(&p)
            } else {
                p.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn a_file_acknowledged_to_bob_is_there_after_the_mailbox_restarts_and_a_wipe_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (owner, bob, inbox) = {
        let served = serve(dir.path());
        let base = &served.base;
        let owner = served.set_up();
        let (bob, files) = served.register(&owner, "b0");
        assert_eq!(call(base, "POST", &files, Some(&bob), b"kept").0, 201);
        (owner, bob, files)
    };
    let served = serve(dir.path());
    assert!(served.setup.is_none(), "a mailbox in use keeps its owner");
    let base = &served.base;
    let (status, body) = call(base, "GET", &inbox, Some(&owner), b"");
    assert_eq!(status, 200);
    let name = json::<serde_json::Value>(&body)["files"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call(base, "GET", &format!("{inbox}/{name}"), Some(&owner), b"").1,
        b"kept"
    );

    // The owner wipes it: every token is nobody's, no file is left, and the next start asks for
    // a new setup.
    assert_eq!(
        call(base, "DELETE", "/v1/mailbox", Some(&owner), b"").0,
        204
    );
    assert_eq!(call(base, "GET", "/v1/status", Some(&owner), b"").0, 401);
    assert_eq!(call(base, "GET", "/v1/status", Some(&bob), b"").0, 401);
    assert_eq!(walk(&dir.path().join("folders")), 0);
    drop(served);
    assert!(serve(dir.path()).setup.is_some());
}

#[test]
fn strangers_hold_hundreds_of_idle_and_slow_connections_and_bob_s_uploads_still_go_through() {
    use std::io::Write;
    use std::net::TcpStream;

    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let base = &served.base;
    let owner = served.set_up();
    let (bob, files) = served.register(&owner, "b0");

    // 300 connections that say nothing, and 100 that send their headers a byte at a time.
    let addr = base.trim_start_matches("http://").to_owned();
    let idle: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    let mut slow: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    for (i, stream) in slow.iter_mut().enumerate() {
        let _ = stream.write_all(&b"POST /v1/status HTTP/1.1\r\n"[..1 + i % 5]);
    }
    // Malformed requests get an answer, not a hang or a crash.
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"\r\n\r\n",
    ] {
        if let Ok(mut stream) = TcpStream::connect(&addr) {
            let _ = stream.write_all(garbage);
        }
    }
    // Bob's uploads go through all the same, each in time.
    for i in 0..20 {
        let started = std::time::Instant::now();
        let (status, _) = call(
            base,
            "POST",
            &files,
            Some(&bob),
            format!("upload {i}").as_bytes(),
        );
        assert_eq!(status, 201);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    let (status, body) = call(base, "GET", &files, Some(&owner), b"");
    assert_eq!(status, 200);
    assert_eq!(
        json::<serde_json::Value>(&body)["files"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    // The strangers were held to the mailbox's budget: it closed all but a few dozen of them.
    let open = idle
        .iter()
        .chain(&slow)
        .filter(|stream| {
            use std::io::Read;
            stream
                .set_read_timeout(Some(std::time::Duration::from_millis(5)))
                .unwrap();
            // Closed: the read ends (or fails with a reset); open: it times out.
            matches!((&**stream).read(&mut [0u8; 64]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    let cap = courier_mailbox::serving::limits().strangers;
    // Some are still open (the newest, within their deadline): the probe tells open from closed.
    assert!(
        0 < open && open <= cap,
        "{open} strangers still connected (cap {cap})"
    );
}
