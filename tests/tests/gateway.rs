//! The gateway in front of the real mocks, driven by real clients (reqwest and
//! async-openai): auth, headers, cache, queue, retries and fallbacks, cost, the
//! text completions and Responses APIs.

#[path = "gateway/apis.rs"]
mod apis;
#[path = "gateway/basics.rs"]
mod basics;
#[path = "gateway/cache.rs"]
mod cache;
#[path = "gateway/cost.rs"]
mod cost;
#[path = "gateway/invariant.rs"]
mod invariant;
#[path = "gateway/queue.rs"]
mod queue;
#[path = "gateway/resilience.rs"]
mod resilience;
