//! Serde types of the provider APIs that gatebench speaks.
//!
//! The mocks answer with these, the gateway proxies them and the driver reads them.
//! Types follow the providers' published shapes field by field; fields the providers
//! mark optional are `Option` here and omitted when `None`, so a response serialised
//! from these types is what the official SDKs expect.

pub mod books;
pub mod elevenlabs;
pub mod gateway;
pub mod hex;
pub mod openai;
pub mod personality;
pub mod refusal;
pub mod webvtt;
