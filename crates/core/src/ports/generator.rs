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
}
