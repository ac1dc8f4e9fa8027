//! The room's state document (`<room>/state.json`) and the changes between two
//! readings of it: the timeline a watch reports.
//!
//! The document is what the room page's own script polls (see
//! `crate::market` live rooms): the room, its host, the card being presented
//! and every card with price and stock. Prices are kept as the text the room
//! shows (`"129.00"`) so the timeline quotes the evidence exactly.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One reading of the room's state.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomState {
    pub room: serde_json::Value,
    #[serde(default)]
    pub title: String,
    pub host: HostState,
    #[serde(default)]
    pub presenting: String,
    pub cards: Vec<CardState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostState {
    pub shop_id: String,
    pub name: String,
    /// The host's shop page, relative to the room.
    #[serde(default)]
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardState {
    pub item_id: String,
    #[serde(default)]
    pub title: String,
    /// The item page, relative to the room.
    #[serde(default)]
    pub path: String,
    pub price: String,
    #[serde(default)]
    pub stock: Option<u64>,
}

/// One change seen between two readings (or the first value seen, `old: None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// When the reading that shows the new value finished.
    pub at: DateTime<Utc>,
    /// The card (for `presenting`: the card now presented).
    pub item_id: String,
    /// `price`, `stock`, `presenting`, or `listed` / `delisted` (a card
    /// added to or removed from the cart).
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// Capture id of the state response the new value was read from.
    pub capture: String,
}

/// The changes from `before` (`None`: the first reading) to `after`.
pub fn diff(before: Option<&RoomState>, after: &RoomState, at: DateTime<Utc>, capture: &str) -> Vec<Change> {
    let change = |item_id: &str, field: &str, old: Option<String>, new: Option<String>| Change {
        at,
        item_id: item_id.to_string(),
        field: field.to_string(),
        old,
        new,
        capture: capture.to_string(),
    };
    let mut out = Vec::new();
    let old_presenting = before.map(|b| b.presenting.as_str());
    if old_presenting != Some(after.presenting.as_str()) && !after.presenting.is_empty() {
        out.push(change(
            &after.presenting,
            "presenting",
            old_presenting.filter(|p| !p.is_empty()).map(str::to_string),
            Some(after.presenting.clone()),
        ));
    }
    for card in &after.cards {
        let old = before.and_then(|b| b.cards.iter().find(|c| c.item_id == card.item_id));
        match old {
            None => {
                if before.is_some() {
                    out.push(change(&card.item_id, "listed", None, Some(card.title.clone())));
                }
                out.push(change(&card.item_id, "price", None, Some(card.price.clone())));
                if let Some(stock) = card.stock {
                    out.push(change(&card.item_id, "stock", None, Some(stock.to_string())));
                }
            }
            Some(old) => {
                if old.price != card.price {
                    out.push(change(&card.item_id, "price", Some(old.price.clone()), Some(card.price.clone())));
                }
                if old.stock != card.stock {
                    let text = |s: Option<u64>| s.map(|s| s.to_string());
                    out.push(change(&card.item_id, "stock", text(old.stock), text(card.stock)));
                }
            }
        }
    }
    for old in before.map(|b| b.cards.as_slice()).unwrap_or_default() {
        if !after.cards.iter().any(|c| c.item_id == old.item_id) {
            out.push(change(&old.item_id, "delisted", Some(old.title.clone()), None));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(presenting: &str, cards: &[(&str, &str, u64)]) -> RoomState {
        RoomState {
            room: serde_json::json!(1),
            title: "t".into(),
            host: HostState { shop_id: "9".into(), name: "h".into(), path: String::new() },
            presenting: presenting.into(),
            cards: cards
                .iter()
                .map(|&(id, price, stock)| CardState {
                    item_id: id.into(),
                    title: id.into(),
                    path: String::new(),
                    price: price.into(),
                    stock: Some(stock),
                })
                .collect(),
        }
    }

    #[test]
    fn price_stock_presenting_and_cart_changes_are_reported() {
        let at = Utc::now();
        let a = state("1", &[("1", "9.00", 10), ("2", "5.00", 3)]);
        let first = diff(None, &a, at, "c0");
        assert_eq!(first.len(), 5, "presenting + price and stock of each card: {first:#?}");
        let b = state("2", &[("1", "10.00", 10), ("3", "1.00", 1)]);
        let fields: Vec<(String, String)> =
            diff(Some(&a), &b, at, "c1").into_iter().map(|c| (c.item_id, c.field)).collect();
        let expected =
            [("2", "presenting"), ("1", "price"), ("3", "listed"), ("3", "price"), ("3", "stock"), ("2", "delisted")];
        assert_eq!(fields, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    }
}
