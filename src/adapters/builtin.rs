//! The adapters shipped in `site-adapters/`, embedded so the binary works
//! from any directory (`--adapters DIR` can add to or override them).

use std::path::Path;

use super::{AdapterSet, Problem};

/// (file name, text) of every shipped adapter.
const SHIPPED: &[(&str, &str)] = &[
    ("sample-mall.toml", include_str!("../../site-adapters/sample-mall.toml")),
    ("sample-mall-js.toml", include_str!("../../site-adapters/sample-mall-js.toml")),
    ("sample-duo.toml", include_str!("../../site-adapters/sample-duo.toml")),
    ("jd.toml", include_str!("../../site-adapters/jd.toml")),
    ("taobao.toml", include_str!("../../site-adapters/taobao.toml")),
    ("tmall.toml", include_str!("../../site-adapters/tmall.toml")),
    ("pinduoduo.toml", include_str!("../../site-adapters/pinduoduo.toml")),
    ("suning.toml", include_str!("../../site-adapters/suning.toml")),
    ("douyin-shop.toml", include_str!("../../site-adapters/douyin-shop.toml")),
    ("douyin-live.toml", include_str!("../../site-adapters/douyin-live.toml")),
];

pub(super) fn load() -> (AdapterSet, Vec<Problem>) {
    let files: Vec<(String, &str)> = SHIPPED.iter().map(|(f, t)| (format!("builtin:{f}"), *t)).collect();
    AdapterSet::from_sources(files.iter().map(|(f, t)| (Path::new(f.as_str()), *t)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_adapters_load_without_problems() {
        let (set, problems) = super::load();
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(
            set.names(),
            [
                "douyin-live",
                "douyin-shop",
                "jd",
                "pinduoduo",
                "sample-duo",
                "sample-mall",
                "sample-mall-js",
                "suning",
                "taobao",
                "tmall"
            ]
        );
    }
}
