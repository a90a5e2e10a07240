//! The web page a node serves, used as a person would: in headless Chromium, driven by Playwright.

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use courier_api_client::client::Client;
use courier_api_client::json::{
    AnswerInvitation, DirectionJson, Group, GroupEntries, GroupPosted, MarkedRead, Messages,
    ReadReceipts, SendText, StateJson,
};
use courier_e2e::{Person, Tools, api_pair, noise_png, wait_until};

use crate::{scratch, send_text};

/// `tests/browser`, where the Playwright script and its packages are.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../browser")
}

/// Why the browser test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (npm ci in tests/browser)".into());
    }
    None
}

/// `page.mjs` running in Chromium, and what it printed so far.
struct Page {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    printed: Vec<String>,
}

impl Page {
    /// Runs `node page.mjs ARGS…` with a 90-second budget.
    fn start(args: &[&str]) -> Result<Page> {
        let mut child = Command::new("node")
            .current_dir(browser_dir())
            .arg("page.mjs")
            .args(args)
            .args(["--timeout-ms", "90000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running node tests/browser/page.mjs")?;
        let lines = BufReader::new(child.stdout.take().context("its stdout")?).lines();
        Ok(Page {
            child,
            lines,
            printed: Vec::new(),
        })
    }

    /// Reads what the page prints until `marker`; fails with its stderr if it ends first.
    fn until(&mut self, marker: &str) -> Result<()> {
        for line in self.lines.by_ref() {
            let line = line?;
            self.printed.push(line.clone());
            if line == marker {
                return Ok(());
            }
        }
        let err = self.stderr()?;
        bail!("the page never printed {marker}: {:?}\n{err}", self.printed)
    }

    /// Waits for the page to end well; everything it printed.
    fn finish(mut self) -> Result<Vec<String>> {
        self.printed
            .extend(self.lines.by_ref().map_while(Result::ok));
        let status = self.child.wait()?;
        let err = self.stderr()?;
        assert!(
            status.success(),
            "the page failed: {:?}\n{err}",
            self.printed
        );
        Ok(self.printed)
    }

    fn stderr(&mut self) -> Result<String> {
        let mut err = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut err)?;
        }
        Ok(err)
    }
}

/// `path` as an argument.
fn path(path: &Path) -> Result<&str> {
    path.to_str().context("a UTF-8 path")
}

/// Where a test's screenshot goes: `target/test-artifacts/NAME`, made empty.
fn screenshot_at(name: &str) -> Result<PathBuf> {
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let screenshot = artifacts.join(name);
    let _ = std::fs::remove_file(&screenshot);
    Ok(screenshot)
}

#[test]
fn in_chromium_alice_logs_in_sends_bob_a_text_and_a_photo_sees_his_reply_arrive_live_and_saves_his_photo()
-> Result<()> {
    if let Some(why) = missing() {
        println!("SKIPPED: {why}");
        return Ok(());
    }
    let root = scratch();
    let (alice, a, bob, b) = api_pair(&Tools::locate()?, root.path(), true)?;
    let token = alice.api_token()?;
    let screenshot = screenshot_at("page-conversation.png")?;
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(320, 240, 3))?;
    let saved = root.path().join("saved-from-the-page.jpg");
    // Alice pairs her mailbox through the page too.
    let (_mailbox, link) =
        courier_e2e::mailbox::new_mailbox(&Tools::locate()?, &root.path().join("mailbox"))?;

    let mut page = Page::start(&[
        "--url",
        &format!("{}/", a.base()),
        "--token",
        token.trim(),
        "--contact",
        "bob",
        "--text",
        "hello from the page",
        "--reply",
        "hello back, page",
        "--screenshot",
        path(&screenshot)?,
        "--image",
        path(&photo)?,
        "--save",
        path(&saved)?,
        "--mailbox",
        &link,
    ])?;
    page.until("SENT")?;
    assert!(
        page.printed.iter().any(|l| l == "PAIRED MAILBOX"),
        "the page paired the mailbox: {:?}",
        page.printed
    );
    // Bob's node got it; he answers from his own API.
    wait_until(Duration::from_secs(30), "bob has the page's text", || {
        let window: Messages = b.get("/v1/conversations/alice/messages")?;
        Ok(window
            .messages
            .iter()
            .any(|m| m.summary == "hello from the page"))
    })?;
    // The page's image comes after the text; then bob answers, and sends a picture of his own.
    page.until("SENT IMAGE")?;
    b.send_text(
        "alice",
        &SendText {
            content_type: "courier/text".into(),
            text: "hello back, page".into(),
            options: Default::default(),
            relates_to: None,
        },
    )?;
    let bobs_photo = b.send_file("alice", "courier/image", &noise_png(200, 150, 9), &[])?;
    let printed = page.finish()?;
    assert!(printed.iter().any(|l| l == "SAW REPLY"), "{printed:?}");
    // What the page saved is bob's picture as alice's node holds it, byte for byte.
    let (_, held) = a.get_bytes(&format!("/v1/messages/{}/content", bobs_photo.id))?;
    assert_eq!(
        std::fs::read(&saved)?,
        held,
        "the saved file is the received image"
    );
    assert_eq!(
        printed.last().map(String::as_str),
        Some(format!("SAVED {}", held.len()).as_str()),
        "{printed:?}"
    );
    let png = std::fs::read(&screenshot).context("the screenshot")?;
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    println!("screenshot: {}", screenshot.display());
    // What the page sent is alice's message, acked, in her own conversation.
    let window: Messages = a.get("/v1/conversations/bob/messages")?;
    let summaries: Vec<&str> = window.messages.iter().map(|m| m.summary.as_str()).collect();
    assert_eq!(summaries.len(), 4, "{summaries:?}");
    assert_eq!(summaries[0], "hello from the page");
    assert!(
        summaries[1].starts_with("image 320×240"),
        "the page's upload: {summaries:?}"
    );
    assert_eq!(summaries[2], "hello back, page");
    assert!(summaries[3].starts_with("image 200×150"), "{summaries:?}");
    drop((alice, bob));
    Ok(())
}

/// Alice and bob, contacts on loopback, each serving the API, and `page.mjs`'s story running in
/// Chromium on alice's page, with its screenshot to come.
struct Story {
    /// Holds both data directories.
    root: tempfile::TempDir,
    alice: Person,
    a: Client,
    bob: Person,
    b: Client,
    page: Page,
    screenshot: PathBuf,
}

/// Starts `story` with `args` after the common ones (alice's page and token, bob as the
/// contact, the screenshot at `target/test-artifacts/SHOT`); `None`, having printed why, where
/// Chromium cannot run.
fn start_story(story: &str, shot: &str, args: &[&str]) -> Result<Option<Story>> {
    if let Some(why) = missing() {
        println!("SKIPPED: {why}");
        return Ok(None);
    }
    let root = scratch();
    let (alice, a, bob, b) = api_pair(&Tools::locate()?, root.path(), true)?;
    let token = alice.api_token()?;
    let screenshot = screenshot_at(shot)?;
    let url = format!("{}/", a.base());
    let mut all = vec!["--story", story, "--url", &url, "--token", token.trim()];
    all.extend(["--contact", "bob", "--screenshot", path(&screenshot)?]);
    all.extend_from_slice(args);
    let page = Page::start(&all)?;
    Ok(Some(Story {
        root,
        alice,
        a,
        bob,
        b,
        page,
        screenshot,
    }))
}

#[test]
fn in_chromium_alice_makes_a_group_invites_bob_sees_his_post_arrive_live_and_answers_it_in_its_thread()
-> Result<()> {
    let args = [
        "--group",
        "Street medics",
        "--text",
        "north entrance, bring water",
        "--reply",
        "where do we meet?",
    ];
    let Some(Story {
        root: _root,
        alice,
        a,
        bob,
        b,
        mut page,
        screenshot,
    }) = start_story("group", "page-group.png", &args)?
    else {
        return Ok(());
    };
    page.until("INVITED")?;
    // Bob accepts through his own node's API and asks, in the group.
    let group = "Street%20medics";
    wait_until(Duration::from_secs(30), "bob is invited", || {
        let groups: Vec<Group> = b.get("/v1/groups")?;
        Ok(groups.iter().any(|g| g.standing == "invited"))
    })?;
    let joined: Group = b.post(
        &format!("/v1/groups/{group}/answer"),
        &AnswerInvitation {
            join_as: Some("bob".into()),
        },
    )?;
    assert_eq!(joined.invited_by.as_deref(), Some("alice"));
    wait_until(Duration::from_secs(30), "bob is a member", || {
        let g: Group = b.get(&format!("/v1/groups/{group}"))?;
        Ok(g.standing == "member")
    })?;
    let asked: GroupPosted = b.post(
        &format!("/v1/groups/{group}/posts"),
        &SendText {
            content_type: "courier/text".into(),
            text: "where do we meet?".into(),
            options: Default::default(),
            relates_to: None,
        },
    )?;
    page.until("POSTED")?;
    // Alice's answer reaches bob in the thread of his question.
    wait_until(Duration::from_secs(30), "bob has alice's answer", || {
        let thread: GroupEntries =
            b.get(&format!("/v1/groups/{group}/posts?thread={}", asked.id))?;
        Ok(thread.entries.iter().any(|e| {
            e.author == "alice"
                && e.summary.as_deref() == Some("north entrance, bring water")
                && e.parent.as_deref() == Some(asked.id.as_str())
        }))
    })?;
    // Alice sets a day's timer on the page and posts under it: bob's node has the timer, and
    // reads the sealed post as any other.
    page.until("TIMER SET")?;
    wait_until(
        Duration::from_secs(30),
        "bob has the timer and the sealed post",
        || {
            let g: Group = b.get(&format!("/v1/groups/{group}"))?;
            let newest: GroupEntries = b.get(&format!("/v1/groups/{group}/posts?limit=5"))?;
            Ok(g.timer.seconds == Some(86_400)
                && newest
                    .entries
                    .iter()
                    .any(|e| e.author == "alice" && e.summary.as_deref() == Some("kept for a day")))
        },
    )?;
    // Alice 👍s bob's question on the page; bob edits it from his node and sees her reaction;
    // she deletes her post for every member, and it leaves bob's node too.
    page.until("REACTED")?;
    let _: GroupPosted = b.post(
        &format!("/v1/groups/{group}/posts"),
        &SendText {
            content_type: "courier/edit".into(),
            text: "where do we meet? (the north one)".into(),
            options: Default::default(),
            relates_to: Some(asked.id.clone()),
        },
    )?;
    let printed = page.finish()?;
    for step in ["SAW POST", "SAW EDIT", "DELETED"] {
        assert!(printed.iter().any(|l| l == step), "{step}: {printed:?}");
    }
    wait_until(
        Duration::from_secs(30),
        "bob sees alice's 👍 and not her deleted post",
        || {
            let newest: GroupEntries = b.get(&format!("/v1/groups/{group}/posts?limit=20"))?;
            let question = newest.entries.iter().find(|e| e.id == asked.id);
            Ok(question.is_some_and(|q| {
                q.reactions.len() == 1
                    && q.reactions[0].author == "alice"
                    && q.reactions[0].reaction == "👍"
                    && q.edits == ["where do we meet? (the north one)"]
            }) && !newest
                .entries
                .iter()
                .any(|e| e.summary.as_deref() == Some("kept for a day")))
        },
    )?;
    let png = std::fs::read(&screenshot).context("the screenshot")?;
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    // The OpenAPI document describes the groups' endpoints.
    let document: serde_json::Value = a.get("/v1/openapi.json")?;
    for endpoint in [
        "/v1/groups",
        "/v1/groups/{group}/posts",
        "/v1/groups/{group}/members/{member}",
    ] {
        assert!(
            document["paths"].get(endpoint).is_some(),
            "{endpoint} is documented"
        );
    }
    drop((alice, bob));
    Ok(())
}

#[test]
fn in_chromium_alice_turns_receipts_on_answers_bob_quoting_him_reacts_edits_deletes_and_sees_his_heart_and_read()
-> Result<()> {
    let args = [
        "--text",
        "the old north gate",
        "--reply",
        "which gate tonight?",
    ];
    let Some(Story {
        root: _root,
        alice,
        a,
        bob,
        b,
        mut page,
        screenshot,
    }) = start_story("relations", "page-relations.png", &args)?
    else {
        return Ok(());
    };
    page.until("RECEIPTS ON")?;
    let question = send_text(&b, "alice", "courier/text", "which gate tonight?", None)?;
    page.until("REPLIED")?;
    // Bob gets the answer, hearts it, turns his receipts on and reads it.
    let mut answer = None;
    wait_until(Duration::from_secs(30), "bob has alice's answer", || {
        let window: Messages = b.get("/v1/conversations/alice/messages")?;
        answer = window.messages.into_iter().find(|m| {
            m.relation.as_deref() == Some("reply") && m.relates_to.as_deref() == Some(&question)
        });
        Ok(answer.is_some())
    })?;
    let answer = answer.map(|m| m.id).unwrap_or_default();
    send_text(&b, "alice", "courier/reaction", "❤", Some(&answer))?;
    let _: ReadReceipts = b.post(
        "/v1/contacts/alice/receipts",
        &serde_json::json!({"receipts": "on"}),
    )?;
    let marked: MarkedRead = b.post("/v1/conversations/alice/read", &())?;
    assert_eq!(marked.receipts, 1, "bob's reading tells alice");
    let printed = page.finish()?;
    for step in [
        "REACTED",
        "EDITED",
        "DELETED",
        "SAW THEIR REACTION",
        "SAW READ",
    ] {
        assert!(printed.iter().any(|l| l == step), "{step}: {printed:?}");
    }

    // Both nodes hold what the page did: bob's question read and 👍'd, the answer quoting it,
    // edited and ❤'d, and nothing of the text taken back.
    let both = |client: &Client, alias: &str| -> Result<Vec<courier_api_client::json::Message>> {
        let window: Messages = client.get(&format!("/v1/conversations/{alias}/messages"))?;
        Ok(window.messages)
    };
    wait_until(Duration::from_secs(30), "both sides agree", || {
        for (client, alias, ours) in [
            (&a, "bob", DirectionJson::Outgoing),
            (&b, "alice", DirectionJson::Incoming),
        ] {
            let messages = both(client, alias)?;
            let Some(q) = messages.iter().find(|m| m.id == question) else {
                return Ok(false);
            };
            let Some(r) = messages.iter().find(|m| m.id == answer) else {
                return Ok(false);
            };
            let theirs = if ours == DirectionJson::Outgoing {
                DirectionJson::Incoming
            } else {
                DirectionJson::Outgoing
            };
            let agreed = q.reactions.len() == 1
                && q.reactions[0].from == ours
                && q.reactions[0].reaction == "👍"
                && r.edits == ["the old north gate, at nine"]
                && r.reactions.len() == 1
                && r.reactions[0].from == theirs
                && r.reactions[0].reaction == "❤"
                && !messages
                    .iter()
                    .any(|m| m.summary.contains("take this back"));
            if !agreed {
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    let at_bob = both(&b, "alice")?;
    let q = at_bob.iter().find(|m| m.id == question).map(|m| m.state);
    assert_eq!(q, Some(StateJson::Read), "alice read it with receipts on");
    let png = std::fs::read(&screenshot).context("the screenshot")?;
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    println!("screenshot: {}", screenshot.display());
    drop((alice, bob));
    Ok(())
}
