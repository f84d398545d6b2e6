//! The five tools: their arguments and answers as Rust types (the JSON schemas are derived
//! from these), the tool list with descriptions and annotations, and tool errors.
//!
//! Arguments are parsed here, not by the SDK, so that every malformed call — a wrong type,
//! a missing or unknown field, a value out of range — is a tool error result
//! (`isError: true`, as the 2025-11-25 revision asks of input validation) that the model
//! can read and correct, and never a protocol error.

use std::sync::Arc;

use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The longest `wait_seconds` a call may ask for.
pub const MAX_WAIT_SECONDS: u64 = 60;

/// The default and largest page of `get_workflow_output`, in bytes.
pub const DEFAULT_OUTPUT_PAGE: u64 = 64 << 10;
/// The largest page of `get_workflow_output`, in bytes.
pub const MAX_OUTPUT_PAGE: u64 = 1 << 20;

/// Arguments of `list_agents`: none.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAgentsArgs {}

/// Arguments of `invoke_agent`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvokeArgs {
    /// The agent's name, as list_agents shows it.
    pub agent_name: String,
    /// What the agent should do, in plain words. Given to the agent as its policy says
    /// (standard input, an argument or the environment).
    pub task_description: String,
    /// Optional JSON object the agent can read as the file /run/mycelium/context.json.
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    /// The directory the agent works in, for agents whose policy uses {workspace}: an
    /// absolute path inside one of the server's workspace roots.
    #[serde(default)]
    #[schemars(with = "String")]
    pub workspace: Option<String>,
    /// Wait up to this many seconds (0 to 60) for the workflow to end before answering;
    /// 0 answers at once.
    #[serde(default)]
    #[schemars(with = "u64", range(min = 0, max = 60))]
    pub wait_seconds: Option<u64>,
}

/// Arguments of `get_workflow_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    /// The workflow id invoke_agent returned (32 hexadecimal digits).
    pub workflow_id: String,
    /// Wait up to this many seconds (0 to 60) for the workflow to end before answering.
    #[serde(default)]
    #[schemars(with = "u64", range(min = 0, max = 60))]
    pub wait_seconds: Option<u64>,
}

/// Arguments of `get_workflow_output`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Where to start, in bytes of the combined output (0: the beginning; pass the
    /// previous answer's next_offset to continue).
    #[serde(default)]
    #[schemars(with = "u64")]
    pub offset: Option<u64>,
    /// At most about this many bytes (1 to 1048576, default 65536).
    #[serde(default)]
    #[schemars(with = "u64", range(min = 1, max = 1_048_576))]
    pub limit: Option<u64>,
}

/// Arguments of `cancel_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelArgs {
    /// The workflow id.
    pub workflow_id: String,
}

/// One agent as `list_agents` shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentInfo {
    /// The name to pass to invoke_agent.
    pub name: String,
    /// What it does, from its policy or definition.
    pub description: Option<String>,
    /// `low`, `medium` or `high`; null when its files are invalid.
    pub risk: Option<String>,
    /// Why it has that risk.
    pub reasons: Vec<String>,
    /// `granted`, `not-required`, `missing`, `changed`, `expired`, `denied`, or `unknown`
    /// when the agent or the consent store could not be read.
    pub consent: String,
    /// Whether invoke_agent needs a workspace for it.
    pub needs_workspace: bool,
    /// Why it cannot be used, when its files are invalid.
    pub error: Option<String>,
}

impl AgentInfo {
    /// An agent that cannot be used, and why.
    #[must_use]
    pub fn broken(name: String, error: String) -> Self {
        AgentInfo {
            name,
            description: None,
            risk: None,
            reasons: Vec::new(),
            consent: "unknown".into(),
            needs_workspace: false,
            error: Some(error),
        }
    }
}

/// The answer of `list_agents`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentList {
    /// Every agent on the server's search path.
    pub agents: Vec<AgentInfo>,
}

/// The answer of `invoke_agent`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Invoked {
    /// The workflow's id: pass it to get_workflow_status, get_workflow_output and
    /// cancel_workflow.
    pub workflow_id: String,
    /// `pending`, `running`, `completed`, `failed`, `cancelled` or `timed_out`.
    pub status: String,
    /// The agent.
    pub agent_name: String,
    /// What happened, and what to call next.
    pub message: String,
}

/// The answer of `get_workflow_status`: the workflow as every reader sees it.
pub use crate::state::WorkflowView as Status;

/// The answer of `get_workflow_output`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OutputPage {
    /// The workflow's id.
    pub workflow_id: String,
    /// Where `output` starts; later than asked when older output was dropped.
    pub offset: u64,
    /// The offset to ask for next.
    pub next_offset: u64,
    /// How many bytes of output were stored in all so far.
    pub total: u64,
    /// The sanitized output.
    pub output: String,
    /// The workflow's status when this page was read.
    pub status: String,
    /// The workflow ended and this page reaches the end of its output.
    pub complete: bool,
}

/// The answer of `cancel_workflow`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Cancelled {
    /// The workflow's id.
    pub workflow_id: String,
    /// Whether a cancel was requested (false: it had already ended).
    pub cancel_requested: bool,
    /// Its status now.
    pub status: String,
    /// What happens next.
    pub message: String,
}

/// A tool error: a code a program can match and a message a person (or model) can act on,
/// with any details as further fields of the structured content.
#[derive(Debug, Clone)]
pub struct ToolError {
    /// `invalid_arguments`, `unknown_agent`, `unknown_workflow`, `consent_required`,
    /// `consent_denied`, `consent_declined`, `workspace_refused`, `not_runnable`, `internal`.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// More fields for the structured content.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ToolError {
    /// An error with no details.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ToolError {
            code,
            message: message.into(),
            details: serde_json::Map::new(),
        }
    }

    /// Add a field to the structured content.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// `invalid_arguments`.
    pub fn invalid(message: impl Into<String>) -> Self {
        ToolError::new("invalid_arguments", message)
    }

    /// As the client receives it: `isError: true`, structured content
    /// `{"error": code, "message": …, details…}`, and the message as text first (a client
    /// that shows only text shows what to do), then the JSON.
    #[must_use]
    pub fn into_result(self) -> CallToolResult {
        let mut object = serde_json::Map::new();
        object.insert("error".into(), self.code.into());
        object.insert("message".into(), self.message.clone().into());
        object.extend(self.details);
        let value = serde_json::Value::Object(object);
        let mut result = CallToolResult::structured_error(value.clone());
        result.content = vec![
            rmcp::model::ContentBlock::text(format!("error {}: {}", self.code, self.message)),
            rmcp::model::ContentBlock::text(value.to_string()),
        ];
        result
    }
}

/// A successful answer: the structured content and the same JSON as text.
pub fn success<T: Serialize>(value: &T) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => ToolError::new("internal", format!("encoding the answer: {e}")).into_result(),
    }
}

/// Parse a tool's arguments; every mistake is an `invalid_arguments` error naming the
/// field (serde's path) and saying what was expected.
///
/// # Errors
/// [`ToolError`] `invalid_arguments`.
pub fn parse<T: serde::de::DeserializeOwned>(
    tool: &str,
    arguments: Option<JsonObject>,
) -> Result<T, ToolError> {
    let value = serde_json::Value::Object(arguments.unwrap_or_default());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path == "." {
            String::new()
        } else {
            format!(" (at `{path}`)")
        };
        ToolError::invalid(format!(
            "{tool}: invalid arguments{at}: {inner}; see the tool's input schema"
        ))
    })
}

/// The tool list, built once.
#[must_use]
pub fn list() -> Vec<Tool> {
    fn tool<I: JsonSchema + 'static, O: JsonSchema + 'static>(
        name: &'static str,
        description: &'static str,
        annotations: ToolAnnotations,
    ) -> Tool {
        // The input types are objects by construction: the schema cannot fail.
        let mut input = schema_for_input::<I>()
            .unwrap_or_else(|_| rmcp::handler::server::common::schema_for_empty_input());
        // An optional argument's `"default": null` would contradict its declared type.
        if let Some(serde_json::Value::Object(props)) =
            Arc::make_mut(&mut input).get_mut("properties")
        {
            for p in props.values_mut() {
                if let serde_json::Value::Object(p) = p
                    && p.get("default") == Some(&serde_json::Value::Null)
                {
                    p.remove("default");
                }
            }
        }
        Tool::new(name, description, input)
            .with_raw_output_schema(answer_or_error(&schema_for_output::<O>()))
            .with_annotations(annotations)
    }
    let read_only = |title: &str| {
        ToolAnnotations::with_title(title)
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false)
    };
    vec![
        tool::<ListAgentsArgs, AgentList>(
            "list_agents",
            "List the agents this server can run: name, description, risk (low, medium, high) with its reasons, consent state, and whether it needs a workspace. An agent at or above the consent threshold runs only with a human's consent for its exact current policy.",
            read_only("List agents"),
        ),
        tool::<InvokeArgs, Invoked>(
            "invoke_agent",
            "Start an agent on a task in its sandbox. Returns a workflow_id at once (or after up to wait_seconds, if it ends sooner); follow it with get_workflow_status and get_workflow_output. Fails with consent_required when a human must first consent to the agent: tell the user the command in the error. The agent's output is sanitized: credentials appear as [REDACTED:rule].",
            ToolAnnotations::with_title("Invoke an agent")
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(true),
        ),
        tool::<StatusArgs, Status>(
            "get_workflow_status",
            "A workflow's status (pending, running, completed, failed, cancelled, timed_out), times, exit code, error, redaction counts and, once it ended, the sanitized tail of its output as result. With wait_seconds, answers as soon as it ends or when the wait is over.",
            read_only("Workflow status"),
        ),
        tool::<OutputArgs, OutputPage>(
            "get_workflow_output",
            "A page of a workflow's sanitized output (standard output and error as stored, in order), by byte offset: start at 0 and pass next_offset to continue; complete is true when the workflow ended and nothing more is left.",
            read_only("Workflow output"),
        ),
        tool::<CancelArgs, Cancelled>(
            "cancel_workflow",
            "Stop a pending or running workflow; it ends as cancelled. A workflow that already ended is left as it is.",
            ToolAnnotations::with_title("Cancel a workflow")
                .read_only(false)
                .destructive(true)
                .idempotent(true)
                .open_world(false),
        ),
    ]
}

/// The output schema of a tool: its answer, or a tool error's structured content. Clients
/// check structured content against the output schema even on error results (the
/// TypeScript SDK does, and fails the call otherwise), so the schema admits both; the
/// answer's own schema stays whole as the first branch.
fn answer_or_error(answer: &JsonObject) -> Arc<JsonObject> {
    let mut answer = answer.clone();
    let mut root = JsonObject::new();
    for key in ["$schema", "$defs"] {
        if let Some(v) = answer.remove(key) {
            root.insert(key.to_owned(), v);
        }
    }
    answer.remove("title");
    root.insert("type".into(), "object".into());
    root.insert(
        "anyOf".into(),
        serde_json::json!([
            answer,
            {
                "type": "object",
                "description": "A tool error (the result has isError: true).",
                "properties": {
                    "error": {"type": "string", "description": "What kind of error: invalid_arguments, unknown_agent, unknown_workflow, consent_required, consent_denied, consent_declined, workspace_refused, not_runnable, busy, internal."},
                    "message": {"type": "string", "description": "What went wrong and what to do."}
                },
                "required": ["error", "message"]
            }
        ]),
    );
    Arc::new(root)
}

/// The tool list, shared.
pub fn shared() -> Arc<Vec<Tool>> {
    static TOOLS: std::sync::OnceLock<Arc<Vec<Tool>>> = std::sync::OnceLock::new();
    Arc::clone(TOOLS.get_or_init(|| Arc::new(list())))
}
