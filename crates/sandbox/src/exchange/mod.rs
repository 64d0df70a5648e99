//! The sandbox as an exchange: Polymarket's CLOB REST (`/clob/…`) and user channel
//! (`/ws/user`) on loopback, checking every signature as the venue does, matching with the
//! engine's fill model (`polyedge_engine::SimExecutor`) against the replayed books. Design:
//! `docs/sandbox.md` §7.

pub mod sig;
