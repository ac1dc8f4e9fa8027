use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Provenance;

/// A seller on one platform, with the business-licence details its page shows.
///
/// Identity on a platform is `(platform, shop_id)`; across platforms the same
/// operator is recognised by its USCC (统一社会信用代码).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shop {
    pub platform: String,
    pub shop_id: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The operator's registered company name (营业执照 企业名称).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_name: Option<String>,
    /// 统一社会信用代码, as shown (not validated here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uscc: Option<String>,
    /// The registered or operating address as shown (住所 / 经营地址).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// GB/T 2260 area code, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    /// Any other licence text the page shows (e.g. 经营范围), verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_id: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub provenance: Provenance,
}

impl Shop {
    pub fn key(&self) -> String {
        format!("{}/{}", self.platform, self.shop_id)
    }

    pub fn content(&self) -> Shop {
        Shop { captured_at: None, capture_id: None, ..self.clone() }
    }
}
