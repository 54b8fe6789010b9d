//! What every gatebench HTTP server (the gateway and the four mocks) shares.
//!
//! - [`server`]: the accept loop, with the [`server::Limits`] each client connection
//!   is held to (header and body timeouts, a connection limit), graceful drain, and
//!   connections a handler can reset on purpose.
//! - [`cores`]: the per-core threads a server may serve its connections on.
//! - [`body`]: the request body as handlers read it: timed, noting whether it was
//!   read to its end, and telling a body too large or too slow apart from other read
//!   errors.
//! - [`front`]: a server's busiest route, served ahead of its router.
//! - [`head`]: request lines and headers past the documented sizes, refused with a
//!   body the server shapes like its provider's errors.
//! - [`admin`]: the token that guards `/metrics` and the control API when a server
//!   binds beyond loopback.
//!
//! A server that answers before reading the whole request body (a 401 before the
//! JSON, a 404 or 405 on a route that takes none) cannot reuse the connection,
//! because the rest of the body is still on the wire; hyper closes it after the
//! response. Without `connection: close` in that response a pooled client sends its
//! next request on a connection about to close, and fails. The server says
//! `connection: close` exactly when the body was not read to its end, so clients
//! open a fresh connection instead, and [`linger`] reads and drops the rest of the
//! body after the response, so a client still sending it reads the response instead
//! of a reset.

pub mod admin;
pub mod body;
pub mod cores;
pub mod front;
pub mod head;
pub mod linger;
pub mod server;
