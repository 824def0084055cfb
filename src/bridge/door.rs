//! Routing at the door: a pushed transaction that is nothing but portal owners' messages,
//! reactions and redactions is queued into its portals in the commit that stores it.
//!
//! Most transactions a busy bridge gets are just that. Through the transaction worker each costs
//! two commits (stored; then its work queued and it marked processed), a wake-up, a read of the
//! stored body and a second parse. At the door it costs one commit; its typing and receipts go
//! into the worker's lane. Everything else goes through the worker as before: bot commands and
//! invites (the bot answers them, with I/O), strangers' messages (they get a hint),
//! rooms whose portal is not in memory, anything while a catch-up is due (its older events go
//! first), and any transaction while an earlier one is still unprocessed (the store checks that
//! in the same commit, [`crate::store::Store::insert_routed_transaction`]). Either way a
//! portal's work is queued in the order the homeserver sent it. On SQLite only
//! ([`crate::store::Store::routes_at_the_door`]).

use std::sync::{Arc, Weak};

use super::{
    Bridge,
    ephemeral::Lane,
    processor::{PortalRoute, is_bridged_type, route_in_portal},
    transaction::TransactionBody,
};
use crate::store::NewPortalWork;

/// Decides, for the appservice's transaction route, which transactions are routed at the door.
pub struct Door {
    bridge: Weak<Bridge>,
    lane: Arc<Lane>,
}

impl Door {
    /// `lane` is the transaction worker's lane for typing and receipts.
    pub fn new(bridge: &Arc<Bridge>, lane: Arc<Lane>) -> Self {
        Self { bridge: Arc::downgrade(bridge), lane }
    }

    /// The portal work of a transaction that can be routed at the door, in order; `None`
    /// sends it through the transaction worker. Decided from memory alone.
    pub fn route(&self, body: &TransactionBody) -> Option<Vec<NewPortalWork>> {
        let bridge = self.bridge.upgrade()?;
        if bridge.catch_up.due().is_some() {
            return None;
        }
        let mut work = Vec::with_capacity(body.events.len());
        for raw in &body.events {
            // One the worker cannot read either is logged there.
            let event = raw.deserialize().ok()?;
            if bridge.is_own_user(event.sender()) {
                continue;
            }
            // The bot acts on none of these in a portal, but for commands (below).
            if !is_bridged_type(&event) {
                return None;
            }
            let portal = bridge.rows.portal_by_room(event.room_id())?;
            // Text in the sender's management room is a command to the bot.
            let management = bridge.rows.management_room(event.sender())?;
            if management.as_deref() == Some(event.room_id()) {
                return None;
            }
            match route_in_portal(&bridge, &portal, raw, &event) {
                PortalRoute::Queue(item) => work.push(item),
                PortalRoute::Ignore => {}
                PortalRoute::Command | PortalRoute::NotBridged => return None,
            }
        }
        Some(work)
    }

    /// The transaction [`Self::route`] gave `work` for was stored with it: wakes the portals'
    /// workers, and hands its typing and receipts to the lane. Nothing earlier was left
    /// unprocessed, so the worker handed over every earlier transaction's before.
    pub async fn routed(&self, body: &TransactionBody, work: &[NewPortalWork]) {
        if let Some(bridge) = self.bridge.upgrade() {
            super::queue::wake_for(&bridge, work);
        }
        self.lane.push(body.ephemeral().to_vec()).await;
    }
}
