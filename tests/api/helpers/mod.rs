//! Test harness: every test gets its own database and Redis key prefix (`db`), the real
//! server on port 0 (`app`), an outage proxy (`proxy`) and the shared flows (`flows`).

mod app;
mod backchannel;
pub mod db;
pub mod dpop;
mod fake_idp;
mod flows;
mod own_cluster;
mod own_postgres;
mod own_redis;
pub mod passkey;
mod process;
mod proxy;
mod smtp_sink;
mod webhook;

pub use app::*;
pub use backchannel::*;
pub use db::*;
pub use fake_idp::*;
pub use flows::*;
pub use own_cluster::*;
pub use own_postgres::*;
pub use own_redis::*;
pub use process::*;
pub use proxy::*;
pub use smtp_sink::*;
pub use webhook::*;
