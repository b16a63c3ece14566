//! The host example's admin page in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against the host's servers started in this process on 127.0.0.1 with the
//! example's stand-ins. It opens the page, sees the flows and their runs, validates a broken
//! spec and finds the error at its field's path, and replays a dead letter until it is
//! delivered.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`) it says so and passes, except under `CI=true`, where it fails.
//!
//! The WebDriver client is the few W3C WebDriver commands the test needs (new session, go,
//! find, text, click, type, displayed, source), over the reqwest client the crate already
//! has, rather than a WebDriver crate and the two dozen crates it would add to the tree.
#![cfg(all(
    feature = "axum",
    feature = "reqwest",
    feature = "sqlite",
    feature = "postgres",
    feature = "whatsapp",
    feature = "timelines",
    feature = "fracttal",
    feature = "rm",
    feature = "schema"
))]

// The host's modules, as the example builds them (each test uses only part of them).
#[allow(dead_code)]
#[path = "../examples/host/admin.rs"]
mod admin;
#[allow(dead_code)]
#[path = "../examples/host/app.rs"]
mod app;
#[allow(dead_code)]
#[path = "../examples/host/scheduler.rs"]
mod scheduler;
#[allow(dead_code)]
#[path = "../examples/host/selftest.rs"]
mod selftest;
#[allow(dead_code)]
#[path = "../examples/host/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../examples/host/stand_ins.rs"]
mod stand_ins;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use app::Host;
use selftest::{Client, CONFIRMATIONS, WORK_REQUESTS};
use stand_ins::StandIns;

type Error = Box<dyn std::error::Error + Send + Sync>;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Without them Chromium tries the network (updates, sync, QUIC probes) and, offline,
/// hangs; the sandbox needs privileges a container or CI runner may not have.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_shows_runs_validates_and_replays_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "skipped: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
        return;
    }

    let stand_ins = StandIns::new().expect("the stand-ins");
    let host = Host::start(stand_ins.setup().await.expect("the setup"))
        .await
        .expect("the host starts");
    let client = Client::new(&host).expect("a client");
    // What the page will show: a scheduler tick's runs and a dead letter.
    for (flow, result) in selftest::tick_at_confirmations(&host.app)
        .await
        .expect("a tick")
    {
        assert!(result.is_ok(), "{flow}: {result:?}");
    }
    let key = selftest::dead_letter(&stand_ins, &client)
        .await
        .expect("a dead letter");

    let driver = Driver::start().expect("chromedriver starts");
    let profile = std::env::temp_dir().join(format!(
        "hubflow-admin-page-{}-{}",
        std::process::id(),
        host.admin.port()
    ));
    let browser = Browser::start(&driver.url, &profile)
        .await
        .expect("Chromium starts");
    let result = drive(&browser, &format!("http://{}/", host.admin), &key).await;
    browser.quit().await;
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    host.shutdown().await;
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// What a person does on the page, and what they must see.
async fn drive(browser: &Browser, page: &str, key: &str) -> Result<(), Error> {
    browser.goto(page).await?;

    // The flows, and the runs the tick left.
    let flows = browser.wait_text("#flows tbody", CONFIRMATIONS).await?;
    for id in [
        "rm-appointment-replies",
        "wo-assigned-whatsapp",
        "wo-status-changed-whatsapp",
        "critical-reading-whatsapp",
        WORK_REQUESTS,
    ] {
        ensure(flows.contains(id), &format!("the flows table lists {id}"))?;
    }
    let runs = format!(r#"#runs .flow-runs[data-flow="{CONFIRMATIONS}"] pre"#);
    let run = browser.wait_text(&runs, "2 delivered").await?;
    ensure(
        run.contains("skipped   rm:appt:A-102"),
        "the confirmation run shows Carla's appointment skipped",
    )?;

    // A broken spec: its error at the misspelt field's path.
    browser.type_into("#spec", selftest::BROKEN_SPEC).await?;
    browser.click("#validate").await?;
    let problem = browser
        .wait_text(
            r#"#errors li[data-path="/delivery/max_in_flihgt"]"#,
            "/delivery/max_in_flihgt",
        )
        .await?;
    ensure(
        problem.contains("unknown field") && problem.contains("(hubflow)"),
        &format!("the loader's error at /delivery/max_in_flihgt says what is wrong: {problem}"),
    )?;
    // The JSON Schema names the same mistake at the object that holds the field.
    let schema_problem = browser
        .wait_text(r#"#errors li[data-path="/delivery"]"#, "max_in_flihgt")
        .await?;
    ensure(
        schema_problem.contains("(schema)"),
        &format!("the schema's error at /delivery is labelled as the schema's: {schema_problem}"),
    )?;
    browser.wait_text("#validation", "2 problems").await?;

    // The dead letter, replayed: delivered, and gone from the list.
    browser.wait_text("#dead-letters tbody", key).await?;
    browser
        .click(&format!(r#"button.replay[data-key="{key}"]"#))
        .await?;
    browser
        .wait_text("#replay-result", &format!("{key}: delivered"))
        .await?;
    browser.wait_displayed("#no-dead-letters").await?;
    let runs = format!(r#"#runs .flow-runs[data-flow="{WORK_REQUESTS}"] pre"#);
    browser.wait_text(&runs, "1 delivered").await?;

    let source = browser.source().await?;
    for (name, value) in stand_ins::SECRETS {
        ensure(
            !source.contains(value),
            &format!("the page shows no {name}"),
        )?;
    }
    Ok(())
}

fn ensure(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(format!("not so: {what}").into())
    }
}

/// chromedriver on a free port of 127.0.0.1, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Result<Driver, Error> {
        // A port the system just handed out and took back: free unless something races.
        let port = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?
            .local_addr()?
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The W3C WebDriver reference to an element, in answers and arguments.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long the page may take to show something.
const PATIENCE: Duration = Duration::from_secs(15);

/// One WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    /// Waits for chromedriver, then opens Chromium with the offline flags and a fresh
    /// profile.
    async fn start(driver: &str, profile: &Path) -> Result<Browser, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let status = http.get(format!("{driver}/status")).send().await;
            if let Ok(response) = status {
                let body: Value = serde_json::from_slice(&response.bytes().await?)?;
                if body["value"]["ready"] == true {
                    break;
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err("chromedriver did not become ready".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        std::fs::create_dir_all(profile)?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let answer = send(
            &http,
            "POST",
            &format!("{driver}/session"),
            Some(capabilities),
        )
        .await?;
        let id = answer["sessionId"]
            .as_str()
            .ok_or("no session id in chromedriver's answer")?;
        Ok(Browser {
            http,
            session: format!("{driver}/session/{id}"),
        })
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        send(&self.http, method, &format!("{}{path}", self.session), body).await
    }

    async fn goto(&self, url: &str) -> Result<(), Error> {
        self.command("POST", "/url", Some(json!({"url": url})))
            .await
            .map(drop)
    }

    /// The first element `css` selects.
    async fn find(&self, css: &str) -> Result<String, Error> {
        let found = self
            .command(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        found[ELEMENT]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element reference for `{css}`").into())
    }

    async fn text(&self, css: &str) -> Result<String, Error> {
        let element = self.find(css).await?;
        let text = self
            .command("GET", &format!("/element/{element}/text"), None)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    async fn click(&self, css: &str) -> Result<(), Error> {
        let element = self.find(css).await?;
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await
        .map(drop)
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<(), Error> {
        let element = self.find(css).await?;
        self.command(
            "POST",
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await?;
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await
        .map(drop)
    }

    async fn source(&self) -> Result<String, Error> {
        let source = self.command("GET", "/source", None).await?;
        Ok(source.as_str().unwrap_or_default().to_owned())
    }

    /// The text of `css` once it contains `expected` (the page loads and re-renders from
    /// its API after the fact).
    async fn wait_text(&self, css: &str, expected: &str) -> Result<String, Error> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut last = String::from("(no such element)");
        while tokio::time::Instant::now() < deadline {
            if let Ok(text) = self.text(css).await {
                if text.contains(expected) {
                    return Ok(text);
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("`{css}` never showed `{expected}`; it showed: {last}").into())
    }

    async fn wait_displayed(&self, css: &str) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if let Ok(element) = self.find(css).await {
                let shown = self
                    .command("GET", &format!("/element/{element}/displayed"), None)
                    .await?;
                if shown == true {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("`{css}` was never displayed").into())
    }

    /// Ends the session, which closes Chromium.
    async fn quit(self) {
        if let Err(e) = self.command("DELETE", "", None).await {
            eprintln!("the WebDriver session did not end cleanly: {e}");
        }
    }
}

/// One WebDriver command: its `value`, or the error WebDriver answered.
async fn send(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, Error> {
    let request = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http.post(url),
    };
    let request = match body {
        Some(body) => request
            .header("Content-Type", "application/json")
            .body(body.to_string()),
        None => request,
    };
    let response = request.send().await?;
    let status = response.status();
    let answer: Value = serde_json::from_slice(&response.bytes().await?)?;
    if !status.is_success() {
        let error = &answer["value"];
        return Err(format!(
            "WebDriver {method} {url}: {} {}",
            error["error"].as_str().unwrap_or("error"),
            error["message"].as_str().unwrap_or("")
        )
        .into());
    }
    Ok(answer["value"].clone())
}
