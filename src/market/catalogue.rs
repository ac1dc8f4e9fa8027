//! What the sample marketplace sells: product classes with their regulatory
//! regime (CCC catalogue code, production licence, food licence, mandatory
//! standard, none), price levels, and the word pools titles are built from;
//! plus the places (GB/T 2260 area codes) shops and makers sit in.
//!
//! Facts are marked as in `/work/shared/domain-facts.md`: [S] from a secondary
//! source quoting the text, [R] recollection not checked against the statute —
//! the marketplace is self-consistent either way (its ground truth and its
//! certificate registry use these same values), but a rule engine that uses a
//! different code for an [R] class will disagree with it there.
//!
//! Clean text in this file must never contain advertising absolutes (最, 第一,
//! 顶级, 国家级 …) or medical claims: those are planted only by `violations.rs`
//! (a unit test there checks every pool here).

/// How a product class is regulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// Compulsory certification (CCC): the 4-digit catalogue code; `mandatory_from`
    /// is set for classes newly brought into the catalogue (`ccc.new_category_deadline`).
    Ccc { code: &'static str, mandatory_from: Option<&'static str> },
    /// Industrial-product production licence (XK): the `XK##-###` prefix.
    Xk { prefix: &'static str },
    /// Food: SC food-production licence; the 2-digit food category.
    Sc { food_category: &'static str },
    /// A mandatory national standard applies, but no certificate is shown.
    Standard,
    /// No product-specific regime.
    Unregulated,
}

/// One kind of product the marketplace sells.
#[derive(Debug)]
pub struct ProductClass {
    /// The `cat=` code in list-page URLs.
    pub slug: &'static str,
    /// The class's Chinese name (also the product name in the certificate registry).
    pub name: &'static str,
    /// The platform category path shown on item pages.
    pub category: &'static str,
    pub regime: Regime,
    /// Typical price in fen; normal prices are 0.6–1.6 × this, see `violations.rs`.
    pub median_fen: u64,
    /// Relative frequency among listings.
    pub weight: u64,
    pub brands: &'static [&'static str],
    /// Product nouns used in titles.
    pub nouns: &'static [&'static str],
    /// Variant words (capacity, power, size) used in titles and the first extra spec.
    pub variants: &'static [&'static str],
    /// Selling points used in titles and descriptions.
    pub points: &'static [&'static str],
    /// The key of the spec row `variants` fill.
    pub variant_key: &'static str,
    /// 执行标准 shown in the spec table.
    pub standard: &'static str,
    /// 型号 prefix.
    pub model_prefix: &'static str,
    /// Whether medical-claim violations are planted in this class (claims there are plausible).
    pub claims_plausible: bool,
    /// Maker company-name suffix.
    pub maker_kind: &'static str,
}

/// The classes, most frequent first. CCC codes: 《强制性产品认证目录描述与界定表(2023年修订)》.
pub static CLASSES: &[ProductClass] = &[
    ProductClass {
        slug: "powerbank",
        name: "移动电源",
        category: "数码配件 > 移动电源",
        // [S] 移动电源 0914, no sale without CCC from 2024-08-01 (domain-facts.md).
        regime: Regime::Ccc { code: "0914", mandatory_from: Some("2024-08-01") },
        median_fen: 8_900,
        weight: 14,
        brands: &["酷能", "迅充", "安弗", "倍量", "途电"],
        nouns: &["充电宝", "移动电源"],
        variants: &["10000毫安", "20000毫安", "5000毫安", "30000毫安"],
        variant_key: "电池容量",
        points: &["22.5W快充", "超薄便携", "自带线", "双向快充", "可上飞机", "数显电量"],
        standard: "GB 4943.1-2022",
        model_prefix: "PB",
        claims_plausible: false,
        maker_kind: "电子科技有限公司",
    },
    ProductClass {
        slug: "charger",
        name: "充电器",
        category: "数码配件 > 充电器",
        // [S] adapters/chargers 0807 (domain-facts.md lists 0807/0907).
        regime: Regime::Ccc { code: "0807", mandatory_from: None },
        median_fen: 4_900,
        weight: 10,
        brands: &["迅充", "酷能", "闪电客", "绿驰"],
        nouns: &["氮化镓充电器", "快充充电头", "电源适配器"],
        variants: &["20W", "33W", "65W", "100W"],
        variant_key: "输出功率",
        points: &["多口快充", "折叠插脚", "小巧便携", "兼容多协议"],
        standard: "GB 4943.1-2022",
        model_prefix: "CH",
        claims_plausible: false,
        maker_kind: "电子有限公司",
    },
    ProductClass {
        slug: "socket",
        name: "插头插座",
        category: "家装电工 > 插座/插线板",
        // [S] 插头插座 0201.
        regime: Regime::Ccc { code: "0201", mandatory_from: None },
        median_fen: 3_900,
        weight: 8,
        brands: &["公牛牛", "正泰安", "德力家"],
        nouns: &["插线板", "排插", "转换插座"],
        variants: &["1.8米", "3米", "5米", "无线"],
        variant_key: "线长",
        points: &["独立开关", "带USB口", "儿童保护门", "加粗铜芯"],
        standard: "GB/T 2099.1-2021",
        model_prefix: "SK",
        claims_plausible: false,
        maker_kind: "电器有限公司",
    },
    ProductClass {
        slug: "hairdryer",
        name: "电吹风",
        category: "个护电器 > 电吹风",
        // [S] 皮肤毛发护理器具 0709.
        regime: Regime::Ccc { code: "0709", mandatory_from: None },
        median_fen: 15_900,
        weight: 7,
        brands: &["飞丝", "美风", "沁丽"],
        nouns: &["电吹风", "吹风机", "高速吹风机"],
        variants: &["1800W", "2000W", "1200W"],
        variant_key: "额定功率",
        points: &["负离子护发", "恒温速干", "低噪音", "可折叠"],
        standard: "GB 4706.15-2008",
        model_prefix: "HD",
        claims_plausible: true,
        maker_kind: "电器有限公司",
    },
    ProductClass {
        slug: "heater",
        name: "室内加热器",
        category: "生活电器 > 取暖器",
        // [S] 室内加热器 0707.
        regime: Regime::Ccc { code: "0707", mandatory_from: None },
        median_fen: 19_900,
        weight: 6,
        brands: &["暖居", "艾美特丽", "先科暖"],
        nouns: &["电暖器", "取暖器", "暖风机"],
        variants: &["2000W", "2200W", "1500W"],
        variant_key: "额定功率",
        points: &["速热", "防倾倒断电", "遥控定时", "静音"],
        standard: "GB 4706.23-2007",
        model_prefix: "HT",
        claims_plausible: false,
        maker_kind: "电器有限公司",
    },
    ProductClass {
        slug: "waterheater",
        name: "电热水器",
        category: "大家电 > 电热水器",
        // [S] 电热水器 0706 (real number 2016010706840003 in domain-facts.md).
        regime: Regime::Ccc { code: "0706", mandatory_from: None },
        median_fen: 99_900,
        weight: 4,
        brands: &["海润", "万和家", "史美"],
        nouns: &["电热水器", "储水式热水器"],
        variants: &["40升", "60升", "80升"],
        variant_key: "容量",
        points: &["节能省电", "速热", "预约洗浴", "防电墙"],
        standard: "GB 4706.12-2006",
        model_prefix: "WH",
        claims_plausible: false,
        maker_kind: "电器有限公司",
    },
    ProductClass {
        slug: "blender",
        name: "食品加工机",
        category: "厨房电器 > 破壁机/料理机",
        // [S] 食品加工器具 0713.
        regime: Regime::Ccc { code: "0713", mandatory_from: None },
        median_fen: 29_900,
        weight: 5,
        brands: &["九悦", "摩飞客", "苏泊家"],
        nouns: &["破壁机", "料理机", "豆浆机"],
        variants: &["1.2升", "1.75升", "0.6升"],
        variant_key: "容量",
        points: &["预约加热", "低音", "多功能", "易清洗"],
        standard: "GB 4706.30-2008",
        model_prefix: "BL",
        claims_plausible: false,
        maker_kind: "电器有限公司",
    },
    ProductClass {
        slug: "ebike-battery",
        name: "电动自行车用锂离子蓄电池",
        category: "电动车配件 > 锂电池",
        // [S] CCC mandatory from 2025-11-01 (SAMR 公告2024年第26号).
        // [R] catalogue code 1120 is UNCERTAIN (not in domain-facts.md): the 2024
        // announcement adds the class to the catalogue; check before encoding rules.
        regime: Regime::Ccc { code: "1120", mandatory_from: Some("2025-11-01") },
        median_fen: 69_900,
        weight: 4,
        brands: &["超能威", "天能达", "星恒源"],
        nouns: &["电动车锂电池", "电瓶车锂电池"],
        variants: &["48V20Ah", "48V24Ah", "60V20Ah"],
        variant_key: "规格",
        points: &["磷酸铁锂", "带保护板", "原厂接口"],
        standard: "GB 43854-2024",
        model_prefix: "EB",
        claims_plausible: false,
        maker_kind: "新能源科技有限公司",
    },
    ProductClass {
        slug: "ebike-charger",
        name: "电动自行车用充电器",
        category: "电动车配件 > 充电器",
        // [S] CCC mandatory from 2025-11-01 (SAMR 公告2024年第26号).
        // [R] catalogue code 1121 is UNCERTAIN, as above.
        regime: Regime::Ccc { code: "1121", mandatory_from: Some("2025-11-01") },
        median_fen: 8_900,
        weight: 4,
        brands: &["超能威", "雅驰", "绿驰"],
        nouns: &["电动车充电器", "电瓶车充电器"],
        variants: &["48V3A", "60V3A", "72V3A"],
        variant_key: "输出",
        points: &["充满自停", "智能脉冲", "带风扇散热"],
        standard: "GB 42295-2022",
        model_prefix: "EC",
        claims_plausible: false,
        maker_kind: "电子有限公司",
    },
    ProductClass {
        slug: "toy",
        name: "电玩具",
        category: "玩具乐器 > 电动玩具",
        // [R] 玩具 大类 22, 电玩具 2202 (recollection of the catalogue table).
        regime: Regime::Ccc { code: "2202", mandatory_from: None },
        median_fen: 7_900,
        weight: 6,
        brands: &["乐高智", "童梦", "奥迪乐"],
        nouns: &["遥控车", "电动积木", "音乐投影玩具"],
        variants: &["3岁以上", "6岁以上", "14岁以上"],
        variant_key: "适用年龄",
        points: &["益智", "可充电", "灯光音效", "耐摔"],
        standard: "GB 6675.1-2014",
        model_prefix: "TY",
        claims_plausible: false,
        maker_kind: "玩具有限公司",
    },
    ProductClass {
        slug: "kids-clothing",
        name: "儿童服装",
        category: "童装童鞋 > 儿童套装",
        // [S] mandatory standard GB 31701-2015 (children's textiles), not in the CCC catalogue.
        regime: Regime::Standard,
        median_fen: 8_900,
        weight: 6,
        brands: &["巴拉童", "小猪班", "安奈儿童"],
        nouns: &["儿童套装", "卫衣套装", "家居服"],
        variants: &["110cm", "120cm", "130cm", "140cm"],
        variant_key: "尺码",
        points: &["纯棉", "A类", "亲肤透气", "宽松"],
        standard: "GB 31701-2015",
        model_prefix: "KC",
        claims_plausible: true,
        maker_kind: "服饰有限公司",
    },
    ProductClass {
        slug: "cosmetics",
        name: "面霜",
        category: "美妆护肤 > 面霜",
        // Cosmetics: 化妆品监督管理条例 regime (filing), no CCC/XK/SC shown.
        regime: Regime::Unregulated,
        median_fen: 12_900,
        weight: 6,
        brands: &["自然谷", "珀芙", "薇诺雅"],
        nouns: &["保湿面霜", "修护霜", "精华乳"],
        variants: &["50g", "30g", "100g"],
        variant_key: "净含量",
        points: &["补水保湿", "清爽不油腻", "温和", "滋润"],
        standard: "GB/T 29665-2013",
        model_prefix: "CS",
        claims_plausible: true,
        maker_kind: "化妆品有限公司",
    },
    ProductClass {
        slug: "snacks",
        name: "坚果炒货",
        category: "休闲食品 > 坚果炒货",
        // [S] SC licence: SC + kind + category(01–31) + area + serial + check.
        // [R] 12 as the food category of 炒货食品及坚果制品.
        regime: Regime::Sc { food_category: "12" },
        median_fen: 4_900,
        weight: 6,
        brands: &["三只鼠", "良品林", "百草园"],
        nouns: &["每日坚果", "混合坚果", "夏威夷果"],
        variants: &["750g", "500g", "1000g"],
        variant_key: "净含量",
        points: &["独立小包", "原味", "低温烘焙", "新货"],
        standard: "GB 19300-2014",
        model_prefix: "SN",
        claims_plausible: true,
        maker_kind: "食品有限公司",
    },
    ProductClass {
        slug: "food-container",
        name: "食品用塑料容器",
        category: "厨房用品 > 保鲜盒",
        // [R] production-licence (XK) product 食品用塑料包装容器工具; prefix XK16-204 is a recollection.
        regime: Regime::Xk { prefix: "XK16-204" },
        median_fen: 3_900,
        weight: 4,
        brands: &["乐扣扣", "禧天", "茶花家"],
        nouns: &["保鲜盒", "密封饭盒", "冰箱收纳盒"],
        variants: &["3件套", "5件套", "1000ml"],
        variant_key: "规格",
        points: &["可微波", "密封防漏", "可叠放"],
        standard: "GB 4806.7-2023",
        model_prefix: "FB",
        claims_plausible: false,
        maker_kind: "塑料制品有限公司",
    },
    ProductClass {
        slug: "phone-case",
        name: "手机壳",
        category: "3C数码配件 > 手机壳",
        // Not regulated; "3C数码" in its titles is a near-miss for `ccc.mark_misleading`.
        regime: Regime::Unregulated,
        median_fen: 2_900,
        weight: 5,
        brands: &["图拉", "邦克", "倍思达"],
        nouns: &["手机壳", "保护套"],
        variants: &["透明款", "磨砂款", "磁吸款"],
        variant_key: "款式",
        points: &["防摔", "轻薄", "全包边", "不发黄"],
        standard: "Q/TL 001-2023",
        model_prefix: "PC",
        claims_plausible: false,
        maker_kind: "数码科技有限公司",
    },
    ProductClass {
        slug: "thermos",
        name: "保温杯",
        category: "水具酒具 > 保温杯",
        regime: Regime::Unregulated,
        median_fen: 6_900,
        weight: 5,
        brands: &["膳魔家", "象印达", "富光明"],
        nouns: &["保温杯", "焖烧杯", "保温壶"],
        variants: &["500ml", "350ml", "1000ml"],
        variant_key: "容量",
        points: &["316不锈钢", "长效保温", "一键开盖", "便携"],
        standard: "GB/T 29606-2013",
        model_prefix: "TM",
        claims_plausible: true,
        maker_kind: "日用品有限公司",
    },
];

/// Sum of the class weights.
pub(crate) fn total_weight() -> u64 {
    CLASSES.iter().map(|c| c.weight).sum()
}

/// The class index for a draw in `0..total_weight()`.
pub(crate) fn class_for_draw(mut draw: u64) -> usize {
    for (index, class) in CLASSES.iter().enumerate() {
        if draw < class.weight {
            return index;
        }
        draw -= class.weight;
    }
    CLASSES.len() - 1
}

/// A place: GB/T 2260 county-level code and its name.
/// [R] codes from the 民政部 行政区划代码 list (e.g. via modood/Administrative-divisions-of-China).
#[derive(Debug)]
pub struct Region {
    pub code: &'static str,
    /// Province + city + district, as addresses start.
    pub name: &'static str,
    /// The city, as company names start.
    pub city: &'static str,
}

pub static REGIONS: &[Region] = &[
    Region { code: "440305", name: "广东省深圳市南山区", city: "深圳市" },
    Region { code: "440306", name: "广东省深圳市宝安区", city: "深圳市" },
    Region { code: "440106", name: "广东省广州市天河区", city: "广州市" },
    Region { code: "441900", name: "广东省东莞市", city: "东莞市" },
    Region { code: "440604", name: "广东省佛山市禅城区", city: "佛山市" },
    Region { code: "330106", name: "浙江省杭州市西湖区", city: "杭州市" },
    Region { code: "330782", name: "浙江省义乌市", city: "义乌市" },
    Region { code: "310115", name: "上海市浦东新区", city: "上海市" },
    Region { code: "110105", name: "北京市朝阳区", city: "北京市" },
    Region { code: "320505", name: "江苏省苏州市虎丘区", city: "苏州市" },
    Region { code: "350206", name: "福建省厦门市湖里区", city: "厦门市" },
    Region { code: "420106", name: "湖北省武汉市武昌区", city: "武汉市" },
    Region { code: "510107", name: "四川省成都市武侯区", city: "成都市" },
    Region { code: "370202", name: "山东省青岛市市南区", city: "青岛市" },
];

/// Syllables for company and shop names.
pub(crate) static NAME_PARTS: &[&str] = &[
    "华锐",
    "鼎盛",
    "恒通",
    "瑞丰",
    "嘉和",
    "宏达",
    "联创",
    "新源",
    "佳美",
    "伟业",
    "永信",
    "金桥",
    "安泰",
    "博远",
    "创维新",
    "天翼",
    "晨光",
    "盛世",
    "蓝海",
    "优品",
    "众诚",
    "启明",
    "万家",
    "和美",
];

pub(crate) static STREETS: &[&str] =
    &["科技园路", "工业大道", "建设路", "人民路", "创业路", "长江路", "中山路", "学府路", "滨海大道", "兴业路"];

/// Plain description sentences any class may use.
pub(crate) static GENERIC_LINES: &[&str] = &[
    "商品支持七天无理由退货。",
    "下单后48小时内发货。",
    "请在干燥通风处存放。",
    "包装内含使用说明书和合格证。",
    "如有质量问题请联系客服处理。",
    "实物颜色以收到的商品为准。",
];

/// Near-miss sentences: look like red flags to a naive matcher but are allowed
/// (SAMR 2023 absolute-terms guideline: usage tips are not absolutes).
pub(crate) static NEAR_MISS_LINES: &[&str] =
    &["使用第一步：请先阅读说明书。", "最佳使用时间为开封后30天内。", "安装第一步：确认电源电压为220V。"];
