//! The web page a node serves, used as a person would: in headless Chromium, driven by Playwright.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use courier_api_client::json::{Messages, SendText};
use courier_e2e::{Tools, api_pair, noise_png, wait_until};

use crate::scratch;

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
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let screenshot = artifacts.join("page-conversation.png");
    let _ = std::fs::remove_file(&screenshot);
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(320, 240, 3))?;
    let saved = root.path().join("saved-from-the-page.jpg");
    // Alice pairs her mailbox through the page too.
    let (_mailbox, link) =
        courier_e2e::mailbox::new_mailbox(&Tools::locate()?, &root.path().join("mailbox"))?;

    let mut page = Command::new("node")
        .current_dir(browser_dir())
        .arg("page.mjs")
        .args(["--url", &format!("{}/", a.base())])
        .args(["--token", token.trim()])
        .args(["--contact", "bob"])
        .args(["--text", "hello from the page"])
        .args(["--reply", "hello back, page"])
        .arg("--screenshot")
        .arg(&screenshot)
        .arg("--image")
        .arg(&photo)
        .arg("--save")
        .arg(&saved)
        .args(["--mailbox", &link])
        .args(["--timeout-ms", "90000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running node tests/browser/page.mjs")?;
    let mut lines = BufReader::new(page.stdout.take().context("its stdout")?).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line?;
        printed.push(line.clone());
        if line == "SENT" {
            break;
        }
    }
    assert!(
        printed.iter().any(|l| l == "PAIRED MAILBOX"),
        "the page paired the mailbox: {printed:?}"
    );
    if printed.last().map(String::as_str) != Some("SENT") {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut page.stderr.take().context("stderr")?, &mut err)?;
        bail!("the page did not send: {printed:?}\n{err}");
    }
    // Bob's node got it; he answers from his own API.
    wait_until(Duration::from_secs(30), "bob has the page's text", || {
        let window: Messages = b.get("/v1/conversations/alice/messages")?;
        Ok(window
            .messages
            .iter()
            .any(|m| m.summary == "hello from the page"))
    })?;
    // The page's image comes after the text; then bob answers, and sends a picture of his own.
    for line in lines.by_ref() {
        let line = line?;
        printed.push(line.clone());
        if line == "SENT IMAGE" {
            break;
        }
    }
    b.send_text(
        "alice",
        &SendText {
            content_type: "courier/text".into(),
            text: "hello back, page".into(),
            options: Default::default(),
        },
    )?;
    let bobs_photo = b.send_file("alice", "courier/image", &noise_png(200, 150, 9), &[])?;
    printed.extend(lines.map_while(Result::ok));
    let status = page.wait()?;
    let mut err = String::new();
    std::io::Read::read_to_string(&mut page.stderr.take().context("stderr")?, &mut err)?;
    assert!(status.success(), "the page failed: {printed:?}\n{err}");
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
