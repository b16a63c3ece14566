//! `--selftest`: the whole host on 127.0.0.1 against the stand-ins, no credentials. Each
//! webhook is posted as its provider would, one scheduler tick runs, a work request the
//! Fracttal stand-in refuses once becomes a dead letter and is replayed from the admin API,
//! the history is checked, and the host shuts down gracefully. The first failed check ends
//! it with an error (and a non-zero exit).

use std::time::Duration;

use chrono::{NaiveTime, TimeDelta, TimeZone, Utc};
use hubflow::whatsapp::webhook::sign;
use hubflow::{CatchUp, RunError, RunReport, Trigger};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::app::{App, Error, Host};
use crate::scheduler::{self, Schedule};
use crate::server::{FRACTTAL_PATH, TIMELINES_PATH, WHATSAPP_PATH};
use crate::stand_ins::{self, StandIns};

/// The flows the checks look at.
pub const CONFIRMATIONS: &str = "rm-appointment-confirmations";
pub const REPLIES: &str = "rm-appointment-replies";
pub const ASSIGNMENTS: &str = "wo-assigned-whatsapp";
pub const WORK_REQUESTS: &str = "whatsapp-request-to-fracttal";

/// A spec with a misspelt delivery field, as a user might type it in the editor.
pub const BROKEN_SPEC: &str = r#"{
  "id": "typo",
  "target": {"http.post": {"url": "https://erp.example.com/hooks"}},
  "delivery": {"max_in_flihgt": 4}
}"#;

pub async fn run() -> Result<(), Error> {
    let stand_ins = StandIns::new()?;
    let host = Host::start(stand_ins.setup().await?).await?;
    let app = host.app.clone();
    let client = Client::new(&host)?;
    println!(
        "webhooks on http://{}, admin page on http://{}/",
        host.public, host.admin
    );

    for (flow, result) in tick_at_confirmations(&app).await? {
        // The tick logs each report; a run that failed is a failed check.
        let report = result.map_err(|e| format!("the scheduled run of {flow} failed: {e}"))?;
        if flow == CONFIRMATIONS {
            let c = report.counts;
            check(
                (c.delivered, c.skipped) == (2, 1),
                "the tick sent Ana's and Bruno's confirmations and skipped Carla's",
            )?;
        }
    }

    restart_checks(&app).await?;

    // WhatsApp: the subscription handshake, a forged post, and Ana's answer.
    let handshake = client
        .get(&format!(
            "{WHATSAPP_PATH}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1158201444",
            stand_ins::VERIFY_TOKEN
        ))
        .await?;
    check(
        handshake == (200, "1158201444".to_owned()),
        "the WhatsApp subscription handshake echoes the challenge",
    )?;
    let payload = confirm_payload(&stand_ins, "5511999991001")?;
    let body = stand_ins::button_reply("wamid.ANA", "5511999991001", &payload, "Sim, confirmar")
        .to_string();
    let forged = sign(&SecretString::from("not the app secret"), body.as_bytes());
    let status = client
        .post(WHATSAPP_PATH, &body, &[("X-Hub-Signature-256", &forged)])
        .await?;
    check(status == 401, "a forged WhatsApp post is refused")?;
    let signature = sign(&SecretString::from(stand_ins::APP_SECRET), body.as_bytes());
    let status = client
        .post(WHATSAPP_PATH, &body, &[("X-Hub-Signature-256", &signature)])
        .await?;
    check(status == 200, "a signed WhatsApp post is accepted")?;
    client
        .wait_for("Ana's answer confirmed in the ERP", |flows| {
            newest(flows, REPLIES).is_some_and(|run| run["counts"]["delivered"] == 1)
        })
        .await?;

    // TimelinesAI: a work request Fracttal refuses once becomes a dead letter.
    let key = dead_letter(&stand_ins, &client).await?;

    // Fracttal's Automator: an assignment without the shared secret, then with it.
    let rows = stand_ins::assignment(90211, "OT-1021", "Jonas Campos").to_string();
    let status = client.post(FRACTTAL_PATH, &rows, &[]).await?;
    check(
        status == 401,
        "a Fracttal event without the secret is refused",
    )?;
    let status = client
        .post(FRACTTAL_PATH, &rows, &fracttal_secret())
        .await?;
    check(
        status == 200,
        "a Fracttal event with the secret is accepted",
    )?;
    client
        .wait_for("Jonas notified of his task", |flows| {
            newest(flows, ASSIGNMENTS).is_some_and(|run| run["counts"]["delivered"] == 1)
        })
        .await?;

    // The stand-in has recovered: the replay delivers the dead letter.
    let answer = client
        .post_json("/api/replay", &json!({"flow": WORK_REQUESTS, "key": key}))
        .await?;
    check(
        answer["outcome"] == "delivered",
        &format!("dead letter {key} replayed: delivered"),
    )?;

    let flows = client.flows().await?;
    for flow in &flows {
        let id = flow["id"].as_str().unwrap_or("?");
        let runs = flow["runs"].as_array().map_or(0, Vec::len);
        check(
            runs > 0,
            &format!("the history shows {runs} run(s) of {id}"),
        )?;
        check(
            flow["dead_letters"].as_array().is_some_and(Vec::is_empty),
            &format!("{id} has no dead letter left"),
        )?;
    }
    let answer = client
        .post_json("/api/validate", &json!({"spec": BROKEN_SPEC}))
        .await?;
    let found = |check: &str, path: &str| {
        answer["errors"].as_array().is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e["check"] == check && e["path"] == path)
        })
    };
    check(
        found("hubflow", "/delivery/max_in_flihgt") && found("schema", "/delivery"),
        "the editor's validation names /delivery/max_in_flihgt (the loader) and /delivery (the schema)",
    )?;
    check(
        client
            .admin_status_as("/api/flows", "rebound.example:8081")
            .await?
            == 421,
        "the admin API refuses a request for another host name (DNS rebinding)",
    )?;
    let page = client.admin_text("/").await? + &client.admin_text("/api/flows").await?;
    let leaked = stand_ins::SECRETS
        .iter()
        .map(|(_, value)| *value)
        .chain([stand_ins::APP_SECRET, stand_ins::FRACTTAL_HOOK_SECRET])
        .find(|secret| page.contains(secret));
    check(leaked.is_none(), "the admin page shows no secret")?;

    // Shut down while Marta's assignment is on its way (WhatsApp's answer held back): the
    // shutdown waits for it, and it is delivered all the same.
    stand_ins.hold();
    let rows = stand_ins::assignment(90212, "OT-1022", "Marta Lima").to_string();
    let status = client
        .post(FRACTTAL_PATH, &rows, &fracttal_secret())
        .await?;
    check(status == 200, "a last Fracttal event is accepted")?;
    let public = host.public;
    let shutdown = host.shutdown();
    tokio::pin!(shutdown);
    let early = tokio::time::timeout(Duration::from_millis(300), &mut shutdown).await;
    check(
        early.is_err(),
        "the shutdown waits while the last event's record is in flight",
    )?;
    stand_ins.release();
    shutdown.await;
    let runs = app
        .flow(ASSIGNMENTS)
        .ok_or("no assignment flow")?
        .history(&app.ctx, 5)
        .await?;
    let marta = "fracttal:wo:90212:assigned:Marta Lima";
    check(
        runs.iter().any(|run| {
            run.get(marta)
                .is_some_and(|l| l.outcome.name() == "delivered")
        }),
        "the shutdown let the last event's record finish",
    )?;
    check(
        tokio::net::TcpStream::connect(public).await.is_err(),
        "the webhooks' port is closed after the shutdown",
    )?;
    println!("self-test passed");
    Ok(())
}

/// What a restart owes: the flows that ran in the tick are due at once when the host comes
/// back after three days (an instant passed meanwhile), and each catch-up rule decides by
/// its own terms.
async fn restart_checks(app: &App) -> Result<(), Error> {
    let later = app.ctx.clock().now() + TimeDelta::days(3);
    let due: Vec<String> = scheduler::resume(app, later)
        .await
        .take_due(later)
        .into_iter()
        .map(|(flow, _)| flow.id().to_owned())
        .collect();
    check(
        due.iter().any(|id| id == CONFIRMATIONS),
        "after three days down, the missed daily confirmations are due at once",
    )?;
    let seven = NaiveTime::from_hms_opt(7, 0, 0).ok_or("07:00 is a time")?;
    let daily = |catch_up| Trigger::daily(seven, chrono_tz::UTC).with_catch_up(catch_up);
    let last = Utc
        .with_ymd_and_hms(2026, 3, 1, 7, 0, 0)
        .single()
        .ok_or("a date")?;
    let half_past = Utc
        .with_ymd_and_hms(2026, 3, 4, 7, 30, 0)
        .single()
        .ok_or("a date")?;
    let hour = CatchUp::All {
        within_seconds: 3600,
    };
    check(
        scheduler::missed(&daily(CatchUp::Latest), last, half_past)
            && !scheduler::missed(&daily(CatchUp::Skip), last, half_past)
            && scheduler::missed(&daily(hour), last, half_past)
            && !scheduler::missed(&daily(hour), last, half_past + TimeDelta::hours(1)),
        "catch-up: latest runs late, skip never, all only within its window",
    )
}

/// One scheduler tick at the instant the daily confirmations are next due (every timed flow
/// is due then: 07:00 is a multiple of their intervals); the runs use the host's clock.
pub async fn tick_at_confirmations(
    app: &App,
) -> Result<Vec<(String, Result<RunReport, RunError>)>, Error> {
    let now = app.ctx.clock().now();
    let at = app
        .flow(CONFIRMATIONS)
        .and_then(|flow| flow.trigger().next_due(now))
        .ok_or("the confirmations are never due")?;
    let mut schedule = Schedule::new(app.flows.iter().map(|hosted| &hosted.flow), now);
    Ok(scheduler::tick(app, schedule.take_due(at)).await)
}

/// Posts a TimelinesAI request that the Fracttal stand-in refuses once, and returns the key
/// of the dead letter it leaves.
pub async fn dead_letter(stand_ins: &StandIns, client: &Client) -> Result<String, Error> {
    stand_ins.fracttal.refuse_next_work_request();
    let body = stand_ins::timelines_request("0b8c1d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e").to_string();
    let path = format!("{TIMELINES_PATH}?token={}", stand_ins::TIMELINES_TOKEN);
    let status = client.post(&path, &body, &[]).await?;
    check(
        status == 200,
        "a TimelinesAI post with its token is accepted",
    )?;
    let flows = client
        .wait_for("the refused work request kept as a dead letter", |flows| {
            flow(flows, WORK_REQUESTS)
                .is_some_and(|f| f["dead_letters"].as_array().is_some_and(|d| d.len() == 1))
        })
        .await?;
    let key = flow(&flows, WORK_REQUESTS)
        .and_then(|f| f["dead_letters"][0]["key"].as_str())
        .ok_or("the dead letter has no key")?;
    Ok(key.to_owned())
}

fn fracttal_secret() -> [(&'static str, &'static str); 1] {
    [(
        hubflow::fracttal::DEFAULT_SECRET_HEADER,
        stand_ins::FRACTTAL_HOOK_SECRET,
    )]
}

/// The "confirm" button's payload of the template sent to `to`.
fn confirm_payload(stand_ins: &StandIns, to: &str) -> Result<String, Error> {
    let sent = stand_ins.whatsapp.sent();
    let template = sent
        .iter()
        .find(|body| body["to"] == to)
        .ok_or_else(|| format!("no confirmation was sent to {to}"))?;
    let components = template["template"]["components"].as_array();
    components
        .into_iter()
        .flatten()
        .filter(|c| c["sub_type"] == "quick_reply")
        .find_map(|c| c["parameters"][0]["payload"].as_str())
        .filter(|payload| payload.starts_with("confirm:"))
        .map(str::to_owned)
        .ok_or_else(|| format!("the confirmation to {to} has no confirm button").into())
}

fn flow<'a>(flows: &'a [Value], id: &str) -> Option<&'a Value> {
    flows.iter().find(|f| f["id"] == id)
}

fn newest<'a>(flows: &'a [Value], id: &str) -> Option<&'a Value> {
    flow(flows, id)
        .map(|f| &f["runs"][0])
        .filter(|run| !run.is_null())
}

fn check(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        println!("ok: {what}");
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// Plays the providers and the operator over HTTP.
pub struct Client {
    http: reqwest::Client,
    public: String,
    admin: String,
}

impl Client {
    pub fn new(host: &Host) -> Result<Client, Error> {
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            public: format!("http://{}", host.public),
            admin: format!("http://{}", host.admin),
        })
    }

    /// A GET of the webhooks: its status and body.
    async fn get(&self, path: &str) -> Result<(u16, String), Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.public))
            .send()
            .await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// A POST to the webhooks: its status.
    pub async fn post(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Result<u16, Error> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.public))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Ok(request.send().await?.status().as_u16())
    }

    async fn admin_text(&self, path: &str) -> Result<String, Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.admin))
            .send()
            .await?;
        Ok(response.error_for_status()?.text().await?)
    }

    /// The status of a GET of the admin page that names `host` as its `Host`.
    async fn admin_status_as(&self, path: &str, host: &str) -> Result<u16, Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.admin))
            .header("Host", host)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// A POST to the admin API: its JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let response = self
            .http
            .post(format!("{}{path}", self.admin))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }

    /// The admin API's flows.
    pub async fn flows(&self) -> Result<Vec<Value>, Error> {
        let answer: Value = serde_json::from_str(&self.admin_text("/api/flows").await?)?;
        Ok(answer["flows"].as_array().cloned().unwrap_or_default())
    }

    /// The admin API's flows once `done` holds of them: webhook records are delivered on a
    /// task of their own, after the answer.
    pub async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>, Error> {
        for _ in 0..400 {
            let flows = self.flows().await?;
            if done(&flows) {
                println!("ok: {what}");
                return Ok(flows);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("check failed after 10 s: {what}").into())
    }
}
