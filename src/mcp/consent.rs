//! Consent at a tool call.
//!
//! An agent whose consent is missing, changed or expired does not start. With
//! `--consent-via-client`, and a client that declared form elicitation, the server asks the
//! client's user: an `elicitation/create` request on a classic session, or — for a
//! 2026-07-28 client, which takes no requests from a server — an input-required result
//! carrying the question and a sealed request state, answered by the client's retry. The
//! form shows the same banner `mycelium consent grant` prints (agent, checksum, files, what
//! the policy allows, risk, what changed); only an accepted form whose `grant` box is
//! ticked records a grant, for the checksum that was shown and only while it is still the
//! agent's checksum. Everything else is a tool error saying what to run in a terminal.
//!
//! Nothing in a call's arguments is consulted here: the model choosing the arguments can
//! neither grant nor skip consent. A sealed request state can only have been made by this
//! server process (a random key of its own), names the agent and checksum it asked about,
//! and is honoured once, within ten minutes: a replayed answer asks again.

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationSchema, InputRequest, InputRequests, InputRequiredResult, ProtocolVersion,
};
use rmcp::service::RequestContext;
use serde::{Deserialize, Serialize};

use super::Server;
use super::tools::ToolError;
use crate::consent::prompt::banner;
use crate::consent::{Grantor, Status};
use crate::registry::LoadedAgent;

/// How long an unanswered question stays valid, and how long a classic client may take to
/// answer one.
pub const QUESTION_LIFETIME: Duration = Duration::from_secs(600);

/// The key of the consent question in an input-required result.
const QUESTION_KEY: &str = "mycelium_consent";

/// What the consent check decided.
#[derive(Debug)]
pub enum Outcome {
    /// The agent may run.
    Allowed(Box<LoadedAgent>),
    /// Ask the (2026-07-28) client's user, and retry.
    Ask(InputRequiredResult),
}

/// What a sealed request state holds.
#[derive(Debug, Serialize, Deserialize)]
struct Question {
    agent: String,
    checksum: String,
    /// Seconds since the epoch when it was asked.
    asked_at: i64,
    /// Random: each question is answered at most once.
    nonce: String,
}

/// Let `agent` run, ask about it, or say why it may not.
///
/// # Errors
/// `consent_required`, `consent_denied`, `consent_declined`, or `internal` when the consent
/// store cannot be read (which grants nothing).
pub async fn ensure(
    server: &Server,
    agent: LoadedAgent,
    params: &CallToolRequestParams,
    ctx: &RequestContext<RoleServer>,
) -> Result<Outcome, ToolError> {
    let consent = server.config().consent.clone();
    let (agent, status) = super::off_runtime("checking consent", move || {
        let status = consent.check(&agent);
        Ok((agent, status))
    })
    .await?;
    let status = status.map_err(|e| {
        ToolError::new(
            "internal",
            format!("the consent store cannot be read, so nothing runs: {e}"),
        )
    })?;
    if status.allows_run() {
        return Ok(Outcome::Allowed(Box::new(agent)));
    }
    if let Status::Denied { .. } = status {
        return Err(denied(server, &agent, &status));
    }
    if !server.config().consent_via_client || !asks_forms(ctx) {
        return Err(required(server, &agent, &status));
    }
    if is_stateless(ctx) {
        return ask_stateless(server, agent, &status, params).await;
    }
    let form = form(&agent, &status)?;
    let answer = ctx
        .peer
        .create_elicitation_with_timeout(form, Some(QUESTION_LIFETIME))
        .await;
    match answer {
        Ok(answer) => decide(server, agent, &answer).await,
        Err(e) => {
            server.log(format_args!(
                "consent question for {} got no answer: {e}",
                agent.name
            ));
            Err(required(server, &agent, &status).with(
                "note",
                "the client did not answer the consent question; a human can grant consent in a terminal instead",
            ))
        }
    }
}

/// A 2026-07-28 call: a retry carrying our sealed question and the user's answer is
/// decided; any other call gets the question.
async fn ask_stateless(
    server: &Server,
    agent: LoadedAgent,
    status: &Status,
    params: &CallToolRequestParams,
) -> Result<Outcome, ToolError> {
    let codec = &server.shared.codec;
    if let (Some(state), Some(responses)) = (&params.request_state, &params.input_responses) {
        let question: Question = codec.open_json(state).map_err(|_| {
            ToolError::invalid(
                "the request state is not one this server issued (or it was altered); call invoke_agent again without it",
            )
        })?;
        let now = jiff::Timestamp::now().as_second();
        let fresh = now.saturating_sub(question.asked_at) <= QUESTION_LIFETIME.as_secs() as i64
            && question.asked_at <= now;
        // An answer about another agent, an older version of this one, or an old question
        // grants nothing: the current agent is asked about afresh.
        if fresh
            && question.agent == agent.name
            && question.checksum == agent.checksum.to_string()
            && let Some(answer) = responses.get(QUESTION_KEY)
            && server.first_answer(&question.nonce, question.asked_at, now)
        {
            let answer: ElicitResult = serde_json::from_value(answer.clone()).map_err(|e| {
                ToolError::invalid(format!(
                    "the answer to the consent question is malformed: {e}"
                ))
            })?;
            return decide(server, agent, &answer).await;
        }
    }
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)
        .map_err(|e| ToolError::new("internal", format!("drawing a random number: {e}")))?;
    let question = Question {
        agent: agent.name.clone(),
        checksum: agent.checksum.to_string(),
        asked_at: jiff::Timestamp::now().as_second(),
        nonce: hex::encode(nonce),
    };
    let sealed = codec
        .seal_json(&question)
        .map_err(|e| ToolError::new("internal", format!("sealing the consent question: {e}")))?;
    let mut requests = InputRequests::new();
    requests.insert(
        QUESTION_KEY.to_owned(),
        InputRequest::Elicitation(ElicitRequest::new(form(&agent, status)?)),
    );
    server.log(format_args!(
        "asking the client's user for consent to {} ({})",
        agent.name, agent.checksum
    ));
    Ok(Outcome::Ask(InputRequiredResult::new(
        Some(requests),
        Some(sealed),
    )))
}

/// Record the grant when the answer is an accepted form with `grant: true`.
async fn decide(
    server: &Server,
    agent: LoadedAgent,
    answer: &ElicitResult,
) -> Result<Outcome, ToolError> {
    let server2 = server.clone();
    let answer = answer.clone();
    super::off_runtime("recording consent", move || {
        decide_sync(&server2, agent, &answer)
    })
    .await
}

fn decide_sync(
    server: &Server,
    agent: LoadedAgent,
    answer: &ElicitResult,
) -> Result<Outcome, ToolError> {
    let granted = answer.action == ElicitationAction::Accept
        && answer
            .content
            .as_ref()
            .and_then(|c| c.get("grant"))
            .and_then(serde_json::Value::as_bool)
            == Some(true);
    if !granted {
        server.log(format_args!(
            "the client's user did not grant consent to {}",
            agent.name
        ));
        return Err(ToolError::new(
            "consent_declined",
            format!(
                "the user did not consent to {}; nothing ran and nothing was recorded",
                agent.name
            ),
        )
        .with("agent_name", agent.name.clone()));
    }
    let c = server.config();
    match c.consent.grant(&agent, c.consent_for, Grantor::current()) {
        Ok(record) => {
            server.log(format_args!(
                "consent to {} granted through the client for {}",
                agent.name, record.checksum
            ));
            Ok(Outcome::Allowed(Box::new(agent)))
        }
        Err(crate::consent::ConsentError::Denied { .. }) => Err(ToolError::new(
            "consent_denied",
            format!(
                "{} was denied in a terminal meanwhile; `mycelium consent revoke {}` lifts the denial",
                agent.name, agent.name
            ),
        )
        .with("agent_name", agent.name.clone())
        .with("command", server.command("revoke", &agent.name))),
        Err(e) => Err(ToolError::new(
            "internal",
            format!("recording consent for {} failed: {e}", agent.name),
        )),
    }
}

/// The elicitation form: the banner as its message, one required yes/no field.
fn form(agent: &LoadedAgent, status: &Status) -> Result<ElicitRequestParams, ToolError> {
    let message = format!(
        "{}\nTick \"grant\" only if you, a person, reviewed the above: the grant is recorded for checksum {} only, and any later edit of the policy or agent asks again.",
        banner(agent, status),
        agent.checksum
    );
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "grant": {
                "type": "boolean",
                "title": format!("Allow {} to run under this policy?", agent.name),
                "description": "Records consent for exactly this policy and agent, like `mycelium consent grant`.",
                "default": false
            }
        },
        "required": ["grant"]
    });
    let serde_json::Value::Object(schema) = schema else {
        return Err(ToolError::new(
            "internal",
            "the consent form is not an object",
        ));
    };
    let requested_schema = ElicitationSchema::from_json_schema(schema)
        .map_err(|e| ToolError::new("internal", format!("the consent form: {e}")))?;
    Ok(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema,
    })
}

/// Whether the client declared form elicitation (for this request, on 2026-07-28).
fn asks_forms(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.client_capabilities()
        .and_then(|c| c.elicitation)
        .is_some_and(|e| e.form.is_some() || e.url.is_none())
}

/// Whether the call uses the 2026-07-28 revision (no server-to-client requests).
fn is_stateless(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// `consent_required`, with what changed and the command that grants.
fn required(server: &Server, agent: &LoadedAgent, status: &Status) -> ToolError {
    let name = &agent.name;
    let (reason, changed) = match status {
        Status::Changed { changes, .. } => (
            "changed_since_consent",
            changes.iter().map(ToString::to_string).collect(),
        ),
        Status::Expired { .. } => ("expired", Vec::new()),
        _ => ("missing", Vec::new()),
    };
    let command = server.command("grant", name);
    let why = match reason {
        "changed_since_consent" => format!(
            "{name} changed since a human consented to it ({}), so it needs consent again",
            if changed.is_empty() {
                "its files' text changed".to_owned()
            } else {
                changed.join("; ")
            }
        ),
        "expired" => format!("the consent to {name} expired"),
        _ => format!(
            "{name} has risk {} and needs a human's consent, which was never given",
            agent.policy.risk().level
        ),
    };
    ToolError::new(
        "consent_required",
        format!(
            "{why}. Ask the user to run `{command}` in a terminal (it shows what the agent may do and asks), then call invoke_agent again."
        ),
    )
    .with("agent_name", name.clone())
    .with("risk", agent.policy.risk().level.as_str())
    .with("reason", reason)
    .with("changed", changed)
    .with("command", command)
}

/// `consent_denied`.
fn denied(server: &Server, agent: &LoadedAgent, status: &Status) -> ToolError {
    let name = &agent.name;
    let command = server.command("revoke", name);
    let when = match status {
        Status::Denied { denial } => format!(
            " on {} by {}",
            crate::consent::manager::when(denial.denied_at),
            denial.denied_by.user
        ),
        _ => String::new(),
    };
    ToolError::new(
        "consent_denied",
        format!(
            "{name} was denied{when} and does not run. Only a human can lift the denial, with `{command}` in a terminal, and then grant consent."
        ),
    )
    .with("agent_name", name.clone())
    .with("risk", agent.policy.risk().level.as_str())
    .with("command", command)
}
