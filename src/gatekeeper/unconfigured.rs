//! The connector used while `gatekeeper.address` is empty: the bridge runs (bot, commands,
//! appservice API) and every gatekeeper action says clearly what the admin has to set.

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    Enlistment, GatekeeperConnector, GatekeeperError, GatekeeperLogin, RemoteEventHandler,
};

pub struct Unconfigured {
    pub network_name: String,
}

fn not_configured() -> GatekeeperError {
    GatekeeperError::Other(
        "this bridge has no gatekeeper configured yet (gatekeeper.address is empty); \
         ask the homeserver's administrator"
            .into(),
    )
}

#[async_trait]
impl GatekeeperConnector for Unconfigured {
    fn network_name(&self) -> &str {
        &self.network_name
    }

    async fn enlist(&self, _: &str) -> Result<Enlistment, GatekeeperError> {
        Err(not_configured())
    }

    async fn unenlist(&self, _: &str) -> Result<(), GatekeeperError> {
        Err(not_configured())
    }

    async fn connect(
        &self,
        _: &str,
        _: Arc<dyn RemoteEventHandler>,
    ) -> Result<Arc<dyn GatekeeperLogin>, GatekeeperError> {
        Err(not_configured())
    }

    async fn wake(&self, _: &str) -> bool {
        false
    }
}
