//! The draw as people and other tools read it: a table (CSV) and JSON.

use std::io::Write;

use serde::Serialize;

use super::draw::Draw;
use super::SamplingError;

/// One CSV row: a drawn item with the seed it was drawn under.
#[derive(Serialize)]
struct Row<'a> {
    seed: String,
    class: &'a str,
    platform: &'a str,
    /// 1-based position within the stratum's draw.
    position: usize,
    key: &'a str,
    shop: &'a str,
    weight: f64,
    rank_key: f64,
}

impl Draw {
    /// Writes one row per drawn item (header `seed,class,platform,position,key,shop,weight,rank_key`).
    pub fn write_csv(&self, out: impl Write) -> Result<(), SamplingError> {
        let mut writer = csv::Writer::from_writer(out);
        let seed = self.seed_hex();
        for stratum in &self.strata {
            for (i, item) in stratum.drawn.iter().enumerate() {
                writer.serialize(Row {
                    seed: seed.clone(),
                    class: &stratum.class,
                    platform: &stratum.platform,
                    position: i + 1,
                    key: &item.key,
                    shop: &item.shop,
                    weight: item.weight,
                    rank_key: item.rank_key,
                })?;
            }
        }
        writer.flush().map_err(csv::Error::from)?;
        Ok(())
    }

    /// [`Draw::write_csv`] into a string.
    pub fn to_csv(&self) -> Result<String, SamplingError> {
        let mut out = Vec::new();
        self.write_csv(&mut out)?;
        String::from_utf8(out).map_err(|_| SamplingError::NotUtf8)
    }

    /// The whole draw as pretty JSON (the auditable record; [`Draw::verify`] reads it back).
    pub fn to_json(&self) -> Result<String, SamplingError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// A draw written by [`Draw::to_json`].
    pub fn from_json(json: &str) -> Result<Draw, SamplingError> {
        Ok(serde_json::from_str(json)?)
    }

    /// A short human-readable account: seed, digest, and per stratum
    /// population, allocation and the keys drawn.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "drew {} of {} candidates in {} strata\nseed {}\ncandidates sha256 {}\nweighting {}\n",
            self.total,
            self.population,
            self.strata.len(),
            self.seed_hex(),
            self.candidates_digest,
            self.plan.weighting.as_str()
        );
        for stratum in &self.strata {
            let keys: Vec<&str> = stratum.drawn.iter().map(|i| i.key.as_str()).collect();
            s.push_str(&format!(
                "  {} / {}: {} of {}: {}\n",
                stratum.class,
                stratum.platform,
                stratum.allocated,
                stratum.population,
                keys.join(" ")
            ));
        }
        s
    }
}
