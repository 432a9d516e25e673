//! The language model port: answers, query rewriting and summaries from a model.

use serde::Serialize;

use crate::domain::answer::AnswerContext;
use crate::error::Result;

/// Tokens a model provider billed for one call.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// A generator's reply.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    pub text: String,
    pub usage: Option<TokenUsage>,
}

/// A tool a model may call while it plans an answer: a name, what it does, and its
/// parameters as a JSON Schema.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: serde_json::Value,
}

/// A call the model made: its id (to answer it by), the tool, and the arguments as JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One message of a conversation with tools.
#[derive(Debug, Clone)]
pub enum ChatMessage {
    System(String),
    User(String),
    /// The model's turn: text, or tool calls.
    Assistant {
        content: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result, answering the call with this id.
    Tool {
        call_id: String,
        content: String,
    },
}

/// What the model did with its turn.
#[derive(Debug, Clone)]
pub enum ChatTurn {
    /// It called tools; their results go back in the next turn.
    Calls {
        calls: Vec<ToolCall>,
        usage: Option<TokenUsage>,
    },
    /// It answered.
    Answer(Generation),
}

/// Writes answers from retrieved tracks. The offline extractive generator lives in this
/// crate; model-backed ones (OpenAI-compatible servers) live at the edge.
pub trait Generator: Send + Sync {
    /// Short name reported in responses, e.g. `extractive` or `openai`.
    fn name(&self) -> &str;
    /// Answers `ctx.question` from `ctx.sources` only, citing them as `[n]`, passing each
    /// piece of text to `on_token` as it is produced.
    fn answer(&self, ctx: &AnswerContext<'_>, on_token: &mut dyn FnMut(&str))
        -> Result<Generation>;
    /// A free-form completion of an instruction (query rewriting, summaries). Generators
    /// without a model cannot.
    fn complete(&self, _system: &str, _user: &str) -> Result<Generation> {
        Err(crate::error::CoreError::Unavailable(format!(
            "the {} generator cannot follow instructions; configure a model provider",
            self.name()
        )))
    }
    /// One turn of a conversation in which the model may call `tools`. Generators without a
    /// model cannot.
    fn chat(&self, _messages: &[ChatMessage], _tools: &[ToolSpec]) -> Result<ChatTurn> {
        Err(crate::error::CoreError::Unavailable(format!(
            "the {} generator cannot call tools; configure a model provider",
            self.name()
        )))
    }
}
