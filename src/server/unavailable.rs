//! The answer to a request for a method the server does not serve. A method of Codex's
//! protocol ([`crate::protocol::codex_methods`]) is answered as Codex answers a method it
//! cannot serve, `-32601 <method> is unavailable in agent-host`, after Codex's own gate for
//! an experimental method (`-32600 <method> requires experimentalApi capability` without
//! the capability); any other method is not found. `docs/compatibility.md` says, for every
//! method of Codex's, whether we serve it and why not.

use crate::jsonrpc::ErrorObject;
use crate::protocol::{Stability, codex_method};

/// Whether the client opted into experimental methods in `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExperimentalApi {
    Enabled,
    Disabled,
}

/// The error for a request of `method`, which this server does not serve.
pub(crate) fn answer(method: &str, experimental: ExperimentalApi) -> ErrorObject {
    match (codex_method(method), experimental) {
        (None, _) => ErrorObject::method_not_found(method),
        (Some(Stability::Experimental), ExperimentalApi::Disabled) => {
            ErrorObject::requires_experimental_api(method)
        }
        (Some(Stability::Experimental | Stability::Stable), _) => ErrorObject::unavailable(method),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::code;

    #[test]
    fn codex_methods_are_unavailable_others_not_found() {
        let stable = answer("account/login/start", ExperimentalApi::Disabled);
        assert_eq!(stable.code, code::METHOD_NOT_FOUND);
        assert_eq!(
            stable.message,
            "account/login/start is unavailable in agent-host"
        );
        let gated = answer("thread/search", ExperimentalApi::Disabled);
        assert_eq!(gated.code, code::INVALID_REQUEST);
        assert_eq!(
            gated.message,
            "thread/search requires experimentalApi capability"
        );
        let opted_in = answer("thread/search", ExperimentalApi::Enabled);
        assert_eq!(
            opted_in.message,
            "thread/search is unavailable in agent-host"
        );
        let unknown = answer("no/such/method", ExperimentalApi::Enabled);
        assert_eq!(unknown, ErrorObject::method_not_found("no/such/method"));
    }
}
