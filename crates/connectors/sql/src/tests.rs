use flowrun_connect::schema::{instance_problems, spec_problems};
use flowrun_connect::testing::{assert_accepts, assert_rejects};
use serde_json::json;

use crate::spec;

#[test]
fn spec_is_well_formed() {
    assert_eq!(spec_problems(&spec()), Vec::<String>::new());
}

#[test]
fn connection_config() {
    let schema = spec().connection_schema;
    for config in [
        json!({ "url": "sqlite://data/app.db" }),
        json!({ "url": "sqlite::memory:", "timeout": "5s" }),
        json!({ "url": "postgres://app:{{ secrets.DB_PASSWORD }}@db/app", "max_connections": 8 }),
    ] {
        assert_eq!(instance_problems(&schema, &config), Vec::<String>::new(), "{config}");
    }
    for config in [
        json!({ "url": "mysql://db/app" }),
        json!({ "url": "sqlite://x.db", "auth": { "kind": "bearer", "token": "t" } }),
        json!({}),
    ] {
        assert!(!instance_problems(&schema, &config).is_empty(), "accepted {config}");
    }
}

#[test]
fn modules() {
    assert_accepts(
        &spec(),
        "query",
        json!({ "sql": "select id, email from customers where updated_at > $1",
                "params": ["{{ cursor }}"] }),
    );
    assert_accepts(&spec(), "query", json!({ "sql": "select count(*) as n from orders" }));
    assert_accepts(
        &spec(),
        "execute",
        json!({ "sql": "delete from staging where run_id = ?", "params": ["{{ run.id }}"] }),
    );
    assert_accepts(
        &spec(),
        "insert",
        json!({ "table": "orders", "rows": [{ "id": 1, "sku": "AB-12", "qty": 500 }] }),
    );
    assert_accepts(
        &spec(),
        "insert",
        json!({ "table": "sales.orders", "rows": "{{ steps.clean.output }}" }),
    );
    assert_accepts(&spec(), "insert", json!({ "table": "orders", "rows": { "id": 1 } }));
    assert_accepts(
        &spec(),
        "upsert",
        json!({ "table": "customers", "rows": "{{ item }}", "key": ["crm_id"] }),
    );

    assert_rejects(&spec(), "query", json!({ "params": [1] }));
    assert_rejects(&spec(), "query", json!({ "sql": "select 1", "params": { "a": 1 } }));
    assert_rejects(
        &spec(),
        "insert",
        json!({ "table": "orders; drop table x", "rows": [] }),
    );
    assert_rejects(&spec(), "insert", json!({ "table": "orders", "rows": [1, 2] }));
    assert_rejects(&spec(), "upsert", json!({ "table": "orders", "rows": [], "key": [] }));
    assert_rejects(&spec(), "upsert", json!({ "table": "orders", "rows": [] }));
    assert_rejects(
        &spec(),
        "upsert",
        json!({ "table": "orders", "rows": [], "key": ["a b"] }),
    );
}

#[test]
fn outputs() {
    let spec = spec();
    let output = |name: &str| spec.module(name).expect("module exists").output_schema.clone();
    let rows = json!([{ "id": 1, "email": "a@x.com", "tags": ["a"], "deleted_at": null }]);
    assert_eq!(instance_problems(&output("query"), &rows), Vec::<String>::new());
    assert_eq!(
        instance_problems(&output("upsert"), &json!({ "rows_affected": 3 })),
        Vec::<String>::new()
    );
}

mod runtime {
    //! The runtime's pure parts: names, write planning, values as Postgres text, the binary
    //! codec, URL redaction. Property tests hold that no input panics.

    use proptest::prelude::*;
    use serde_json::{Value as Json, json};

    use crate::run::binary::{self, Encoded, PgType, Shape};
    use crate::run::rows::{self, Change, Dialect, Kind, PgTarget, Write};
    use crate::run::{Op, Url, is_identifier, is_name};
    use crate::{IDENTIFIER_PATTERN, Identifier, Rows};

    fn rows(value: Json) -> Vec<rows::Row> {
        match value {
            Json::Array(items) => items
                .into_iter()
                .map(|item| item.as_object().unwrap().clone())
                .collect(),
            Json::Object(row) => vec![row],
            other => panic!("{other}"),
        }
    }

    fn upsert(table: &str, value: Json, key: &[&str]) -> Result<Write, String> {
        let key = key.iter().map(|column| Identifier((*column).to_owned())).collect();
        Write::new(table, rows(value), Some(key), false)
    }

    #[test]
    fn ops_match_the_catalog() {
        let spec = crate::spec();
        let connector = crate::connector();
        assert_eq!(spec.modules.len(), Op::ALL.len());
        for op in Op::ALL {
            let module = spec.module(op.name()).expect("in the catalog");
            assert_eq!(module.kind, op.kind(), "{}", op.name());
            assert!(connector.module(op.name()).is_some());
        }
        assert!(connector.module("nope").is_none());
    }

    #[test]
    fn identifiers() {
        for good in ["orders", "_x", "Orders2", "sales.orders", "a_b.c_d"] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in [
            "",
            "1a",
            "a b",
            "a;drop table x",
            "a\"b",
            "a.b.c",
            ".a",
            "a.",
            "é",
            "a-b",
            "a\0",
        ] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
        assert!(is_name("a_1") && !is_name("a.b"));
    }

    proptest! {
        #[test]
        fn identifier_check_is_the_pattern(text in "[A-Za-z0-9_.;\" é-]{0,12}|\\PC{0,12}") {
            let pattern = regex::Regex::new(IDENTIFIER_PATTERN).unwrap();
            prop_assert_eq!(is_identifier(&text), pattern.is_match(&text));
            prop_assert_eq!(Write::new(&text, rows(json!([])), None, false).is_ok(), pattern.is_match(&text));
        }
    }

    #[test]
    fn writes_are_checked() {
        assert!(Write::new("orders; drop table x", rows(json!([])), None, false).is_err());
        let error = Write::new("orders", rows(json!([{ "ok": 1, "bad name": 2 }])), None, false).unwrap_err();
        assert!(error.contains("`rows[0]`") && error.contains("\"bad name\""), "{error}");
        let error = upsert("orders", json!([{ "id": 1 }, { "x": 2 }]), &["id"]).unwrap_err();
        assert!(error.contains("`rows[1]` has no `id`"), "{error}");
        let error = upsert("orders", json!([{ "id": 1 }]), &["id", "id"]).unwrap_err();
        assert!(error.contains("twice"), "{error}");
        let error = upsert("orders", json!([{ "id": 1 }]), &["s.id"]).unwrap_err();
        assert!(error.contains("`key`"), "{error}");
    }

    #[test]
    fn upsert_rows_merge_by_key_in_order() {
        let write = upsert(
            "orders",
            json!([
                { "id": 1, "a": 1, "b": 1 },
                { "id": 2, "a": 2 },
                { "id": 1, "a": 10 },
                { "id": null, "a": 3 },
                { "id": null, "a": 4 },
                { "id": 1, "c": "x" },
            ]),
            &["id"],
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&write.rows).unwrap(),
            json!([
                { "id": 1, "a": 10, "b": 1, "c": "x" },
                { "id": 2, "a": 2 },
                { "id": null, "a": 3 },
                { "id": null, "a": 4 },
            ])
        );
        // An insert keeps every row.
        let insert = Write::new("t", rows(json!([{ "id": 1 }, { "id": 1 }])), None, false).unwrap();
        assert_eq!(insert.rows.len(), 2);
        // One object is one row.
        let one = Write::new("t", rows(json!({ "id": 1 })), None, false).unwrap();
        assert_eq!(one.rows.len(), 1);
    }

    #[test]
    fn rows_group_by_their_columns() {
        let write = Write::new(
            "t",
            rows(json!([{ "a": 1, "b": 2 }, { "b": 3, "a": 4 }, { "a": 5 }, {}])),
            None,
            false,
        )
        .unwrap();
        let groups = write.groups();
        let shapes: Vec<(Vec<&str>, usize)> = groups
            .iter()
            .map(|group| (group.columns.clone(), group.rows.len()))
            .collect();
        assert_eq!(shapes, vec![(vec!["a", "b"], 2), (vec!["a"], 1), (vec![], 1)]);
        assert_eq!(
            groups[0].rows_per_statement(Dialect::Postgres),
            rows::MAX_ROWS_PER_STATEMENT
        );
        assert_eq!(groups[2].rows_per_statement(Dialect::Sqlite), 1);
        let wide: Vec<serde_json::Map<String, Json>> = vec![(0..20_000).map(|n| (format!("c{n}"), json!(n))).collect()];
        let wide = Write::new("t", rows(json!(wide)), None, false).unwrap();
        assert_eq!(wide.groups()[0].rows_per_statement(Dialect::Sqlite), 1);
        assert_eq!(wide.groups()[0].rows_per_statement(Dialect::Postgres), 3);
    }

    #[test]
    fn statements() {
        let write = upsert("sales.orders", json!([{ "id": 1, "note": "x" }]), &["id"]).unwrap();
        assert_eq!(
            rows::insert_sql(Dialect::Sqlite, &write, &["id", "note"], &[], 2),
            r#"INSERT INTO "sales"."orders" ("id", "note") VALUES (?, ?), (?, ?) ON CONFLICT ("id") DO UPDATE SET "note" = excluded."note""#
        );
        assert_eq!(
            rows::insert_sql(Dialect::Postgres, &write, &["id", "note"], &["bigint", "text"], 2),
            r#"INSERT INTO "sales"."orders" ("id", "note") VALUES ($1::bigint, $2::text), ($3::bigint, $4::text) ON CONFLICT ("id") DO UPDATE SET "note" = excluded."note""#
        );
        assert_eq!(
            rows::insert_sql(Dialect::Postgres, &write, &["id"], &["bigint"], 1),
            r#"INSERT INTO "sales"."orders" ("id") VALUES ($1::bigint) ON CONFLICT ("id") DO NOTHING"#
        );
        let insert = Write::new("t", rows(json!([{}])), None, false).unwrap();
        assert_eq!(
            rows::insert_sql(Dialect::Sqlite, &insert, &[], &[], 1),
            r#"INSERT INTO "t" DEFAULT VALUES"#
        );
    }

    #[test]
    fn new_tables_take_their_types_from_the_rows() {
        let write = upsert(
            "t",
            json!([
                { "id": 1, "n": 1, "f": 1, "b": true, "s": "x", "o": { "a": 1 }, "l": [1], "z": null, "m": 1, "big": 1 },
                { "id": 2, "n": 2, "f": 1.5, "b": false, "s": "y", "o": null, "l": [], "z": null, "m": "x", "big": u64::MAX },
            ]),
            &["id"],
        )
        .unwrap();
        let kinds: Vec<(&str, Kind)> = write.column_kinds().into_iter().collect();
        use Kind::*;
        assert_eq!(
            kinds,
            vec![
                ("id", Integer),
                ("n", Integer),
                ("f", Float),
                ("b", Bool),
                ("s", Text),
                ("o", Json),
                ("l", Json),
                ("z", Null),
                ("m", Mixed),
                ("big", BigInteger),
            ]
        );
        assert_eq!(
            rows::create_table_sql(Dialect::Postgres, &write),
            r#"CREATE TABLE IF NOT EXISTS "t" ("id" BIGINT, "n" BIGINT, "f" DOUBLE PRECISION, "b" BOOLEAN, "s" TEXT, "o" JSONB, "l" JSONB, "z" TEXT, "m" TEXT, "big" NUMERIC, PRIMARY KEY ("id"))"#
        );
        assert_eq!(
            rows::create_table_sql(Dialect::Sqlite, &write),
            r#"CREATE TABLE IF NOT EXISTS "t" ("id" INTEGER, "n" INTEGER, "f" REAL, "b" BOOLEAN, "s" TEXT, "o" TEXT, "l" TEXT, "z" TEXT, "m" TEXT, "big" INTEGER, PRIMARY KEY ("id"))"#
        );
        assert_eq!(
            rows::add_column_sql(Dialect::Postgres, &write, "n", Integer),
            r#"ALTER TABLE "t" ADD COLUMN IF NOT EXISTS "n" BIGINT"#
        );
    }

    #[test]
    fn changes_a_table_needs() {
        let mut write = Write::new("t", rows(json!([{ "Id": 1, "new": "x" }])), None, false).unwrap();
        let error = rows::change(&write, &write.groups(), None, true).unwrap_err();
        assert!(
            error.contains("table `t` does not exist: set `create: true`"),
            "{error}"
        );
        let existing = vec!["id".to_owned()];
        let error = rows::change(&write, &write.groups(), Some(&existing), true).unwrap_err();
        assert!(error.contains("has no column `new`"), "{error}");
        let error = rows::change(&write, &write.groups(), Some(&existing), false).unwrap_err();
        assert!(error.contains("`Id`, `new`"), "{error}");
        write.create = true;
        assert_eq!(
            rows::change(&write, &write.groups(), None, true),
            Ok(Change::CreateTable)
        );
        assert_eq!(
            rows::change(&write, &write.groups(), Some(&existing), true),
            Ok(Change::AddColumns(vec![("new", Kind::Text)]))
        );
        let all = vec!["ID".to_owned(), "NEW".to_owned()];
        assert_eq!(
            rows::change(&write, &write.groups(), Some(&all), true),
            Ok(Change::Nothing)
        );
    }

    #[test]
    fn values_as_postgres_text() {
        let text = |value: Json, target: PgTarget| rows::pg_text(&value, target).unwrap().map(|text| text.into_owned());
        let plain = PgTarget::default();
        assert_eq!(text(json!(null), plain), None);
        assert_eq!(
            text(json!("2024-05-01T10:00:00Z"), plain).as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert_eq!(text(json!(true), plain).as_deref(), Some("true"));
        assert_eq!(text(json!(1.5), plain).as_deref(), Some("1.5"));
        assert_eq!(text(json!({ "a": [1] }), plain).as_deref(), Some(r#"{"a":[1]}"#));
        let array = PgTarget {
            array: true,
            bytea: false,
        };
        assert_eq!(
            text(json!([1, null, "a \"b\"\\", [2, 3], { "k": 1 }]), array).as_deref(),
            Some(r#"{1,NULL,"a \"b\"\\",{2,3},"{\"k\":1}"}"#)
        );
        let bytea = PgTarget {
            array: false,
            bytea: true,
        };
        assert_eq!(text(json!("AP8="), bytea).as_deref(), Some("\\x00ff"));
        assert!(rows::pg_text(&json!("not base64!"), bytea).is_err());
    }

    fn ty(oid: u32, name: &str) -> PgType {
        PgType::builtin(oid, name)
    }

    fn decode(oid: u32, bytes: &[u8]) -> Result<Json, String> {
        binary::decode(&ty(oid, "t"), bytes)
    }

    /// `numeric_send` of the digits: base-10000 groups.
    fn numeric_bytes(negative: bool, weight: i16, scale: u16, digits: &[i16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        bytes.extend_from_slice(&weight.to_be_bytes());
        bytes.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        bytes.extend_from_slice(&scale.to_be_bytes());
        for digit in digits {
            bytes.extend_from_slice(&digit.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn decoding() {
        assert_eq!(decode(16, &[1]), Ok(json!(true)));
        assert_eq!(decode(20, &(-5i64).to_be_bytes()), Ok(json!(-5)));
        assert_eq!(decode(700, &0.1f32.to_be_bytes()), Ok(json!(0.1)));
        assert_eq!(decode(701, &f64::NAN.to_be_bytes()), Ok(json!("NaN")));
        assert_eq!(decode(17, &[0, 255]), Ok(json!("AP8=")));
        assert_eq!(decode(3802, b"\x01{\"a\": [1, 2]}"), Ok(json!({ "a": [1, 2] })));
        assert_eq!(decode(114, b"[true]"), Ok(json!([true])));
        // 12345.670 (scale 3), -0.0001, 10000, 0.00
        assert_eq!(
            decode(1700, &numeric_bytes(false, 1, 3, &[1, 2345, 6700])),
            Ok(json!(12345.67))
        );
        assert_eq!(decode(1700, &numeric_bytes(true, -1, 4, &[1])), Ok(json!(-0.0001)));
        assert_eq!(decode(1700, &numeric_bytes(false, 1, 0, &[1])), Ok(json!(10000)));
        assert_eq!(decode(1700, &numeric_bytes(false, 0, 2, &[])), Ok(json!(0.0)));
        assert_eq!(
            decode(1700, &numeric_bytes(false, 5, 0, &[1, 2345, 6789, 123, 4567, 8901])),
            Ok(json!("123456789012345678901")),
            "beyond 64 bits: every digit, as a string"
        );
        assert_eq!(
            decode(1700, &numeric_bytes(false, 0, 20, &[1, 2345, 6789, 123, 4567, 8901])),
            Ok(json!("1.23456789012345678901"))
        );
        assert_eq!(decode(1700, &[0, 0, 0, 0, 0xC0, 0, 0, 0]), Ok(json!("NaN")));
        assert_eq!(decode(1082, &0i32.to_be_bytes()), Ok(json!("2000-01-01")));
        assert_eq!(decode(1082, &(-1i32).to_be_bytes()), Ok(json!("1999-12-31")));
        assert_eq!(decode(1082, &i32::MAX.to_be_bytes()), Ok(json!("infinity")));
        let noon_and_a_half = 43_200_500_000i64;
        assert_eq!(
            decode(1114, &noon_and_a_half.to_be_bytes()),
            Ok(json!("2000-01-01T12:00:00.5"))
        );
        assert_eq!(
            decode(1184, &(-1i64).to_be_bytes()),
            Ok(json!("1999-12-31T23:59:59.999999Z"))
        );
        assert_eq!(decode(1184, &i64::MIN.to_be_bytes()), Ok(json!("-infinity")));
        assert_eq!(decode(1083, &3_723_000_000i64.to_be_bytes()), Ok(json!("01:02:03")));
        let mut timetz = 3_600_000_000i64.to_be_bytes().to_vec();
        timetz.extend_from_slice(&(-7200i32).to_be_bytes());
        assert_eq!(decode(1266, &timetz), Ok(json!("01:00:00+02:00")));
        let mut interval = (-90_500_000i64).to_be_bytes().to_vec();
        interval.extend_from_slice(&3i32.to_be_bytes());
        interval.extend_from_slice(&14i32.to_be_bytes());
        assert_eq!(decode(1186, &interval), Ok(json!("P1Y2M3DT-1M-30.5S")));
        assert_eq!(decode(1186, &[0; 16]), Ok(json!("PT0S")));
        let uuid: Vec<u8> = (0u8..16).collect();
        assert_eq!(decode(2950, &uuid), Ok(json!("00010203-0405-0607-0809-0a0b0c0d0e0f")));
        assert_eq!(decode(869, &[2, 32, 0, 4, 10, 0, 0, 1]), Ok(json!("10.0.0.1")));
        assert_eq!(decode(650, &[2, 8, 1, 4, 10, 0, 0, 0]), Ok(json!("10.0.0.0/8")));
        assert!(decode(790, &[0; 8]).unwrap_err().contains("cast the column"));
        // int4[][]: {{1,NULL},{3,4}}
        let mut array = Vec::new();
        for word in [2i32, 1, 23, 2, 1, 2, 1] {
            array.extend_from_slice(&word.to_be_bytes());
        }
        for element in [Some(1i32), None, Some(3), Some(4)] {
            match element {
                Some(value) => {
                    array.extend_from_slice(&4i32.to_be_bytes());
                    array.extend_from_slice(&value.to_be_bytes());
                }
                None => array.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let int4_array = PgType {
            oid: 1007,
            name: "int4[]".to_owned(),
            shape: Shape::Array(Box::new(ty(23, "int4"))),
        };
        assert_eq!(binary::decode(&int4_array, &array), Ok(json!([[1, null], [3, 4]])));
        assert_eq!(binary::decode(&int4_array, &[0; 12]), Ok(json!([])));
        assert!(decode(23, &[0, 0, 0]).is_err(), "short");
        assert!(decode(23, &[0, 0, 0, 0, 0]).is_err(), "long");
    }

    #[test]
    fn encoding() {
        let encode = |oid: u32, value: Json| binary::encode(&ty(oid, "t"), &value).unwrap();
        assert_eq!(encode(23, json!(7)), Encoded::Bytes(Some(7i32.to_be_bytes().to_vec())));
        assert_eq!(encode(23, json!(1i64 << 40)), Encoded::Text("1099511627776".to_owned()));
        assert_eq!(encode(23, json!("7")), Encoded::Text("7".to_owned()));
        assert_eq!(encode(25, json!(7)), Encoded::Bytes(Some(b"7".to_vec())));
        assert_eq!(
            encode(3802, json!({ "a": 1 })),
            Encoded::Bytes(Some(b"\x01{\"a\":1}".to_vec()))
        );
        assert_eq!(
            encode(1184, json!("2024-05-01T10:00:00Z")),
            Encoded::Text("2024-05-01T10:00:00Z".to_owned())
        );
        assert_eq!(encode(1700, json!(1.25)), Encoded::Text("1.25".to_owned()));
        assert_eq!(encode(16, json!(null)), Encoded::Bytes(None));
        assert!(binary::encode(&ty(17, "bytea"), &json!(5)).is_err());
        let text_array = PgType {
            oid: 1009,
            name: "text[]".to_owned(),
            shape: Shape::Array(Box::new(ty(25, "text"))),
        };
        assert_eq!(
            binary::encode(&text_array, &json!(["a", "b,c"])).unwrap(),
            Encoded::Text(r#"{"a","b,c"}"#.to_owned())
        );
    }

    /// The decimal of base-10000 digits, worked out the other way round: all digits in a row,
    /// the point placed by the weight.
    fn reference_decimal(negative: bool, weight: i16, scale: u16, digits: &[i16]) -> String {
        let all: String = digits.iter().map(|digit| format!("{digit:04}")).collect();
        let point = (i64::from(weight) + 1) * 4;
        let (mut integer, mut fraction) = if point <= 0 {
            (String::new(), "0".repeat(point.unsigned_abs() as usize) + &all)
        } else if point as usize >= all.len() {
            (all.clone() + &"0".repeat(point as usize - all.len()), String::new())
        } else {
            (all[..point as usize].to_owned(), all[point as usize..].to_owned())
        };
        integer = integer.trim_start_matches('0').to_owned();
        if integer.is_empty() {
            integer = "0".to_owned();
        }
        while fraction.len() < usize::from(scale) {
            fraction.push('0');
        }
        fraction.truncate(usize::from(scale));
        let sign = if negative { "-" } else { "" };
        if scale == 0 {
            format!("{sign}{integer}")
        } else {
            format!("{sign}{integer}.{fraction}")
        }
    }

    fn json_value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>().prop_map(Json::from),
            "\\PC{0,8}".prop_map(Json::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::vec(("[a-z]{1,3}", inner), 0..4)
                    .prop_map(|pairs| Json::Object(pairs.into_iter().collect())),
            ]
        })
    }

    const OIDS: [u32; 34] = [
        16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 142, 650, 700, 701, 705, 774, 829, 869, 1042, 1043, 1082, 1083, 1114,
        1184, 1186, 1266, 1700, 2950, 3802, 4072, 790, 0, 1560, 99_999,
    ];

    proptest! {
        #[test]
        fn numerics_decode_exactly(
            negative in any::<bool>(),
            weight in -12i16..12,
            scale in 0u16..40,
            digits in prop::collection::vec(0i16..10_000, 0..8),
        ) {
            let expected = reference_decimal(negative, weight, scale, &digits);
            prop_assert_eq!(binary::decimal_text(negative, weight, scale, &digits), expected.clone());
            let decoded = binary::decode(&ty(1700, "numeric"), &numeric_bytes(negative, weight, scale, &digits)).unwrap();
            match decoded {
                Json::String(text) => prop_assert_eq!(text, expected),
                Json::Number(number) => {
                    let value: f64 = expected.parse().unwrap();
                    prop_assert_eq!(number.as_f64().unwrap(), value, "{}", expected);
                }
                other => prop_assert!(false, "{other}"),
            }
        }

        #[test]
        fn dates_follow_the_calendar(days in -4_300_000i64..2_900_000) {
            let expected = jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let (year, month, day) = binary::civil_from_days(days);
            prop_assert_eq!(
                (year, month, day),
                (i64::from(expected.year()), expected.month() as u32, expected.day() as u32)
            );
        }

        #[test]
        fn any_bytes_decode_without_panic(
            oid in prop::sample::select(OIDS.to_vec()),
            bytes in prop::collection::vec(any::<u8>(), 0..48),
        ) {
            let _ = decode(oid, &bytes);
            let array = PgType { oid: 1, name: "a[]".to_owned(), shape: Shape::Array(Box::new(ty(oid, "e"))) };
            let _ = binary::decode(&array, &bytes);
        }

        #[test]
        fn any_json_encodes_without_panic(oid in prop::sample::select(OIDS.to_vec()), value in json_value()) {
            let _ = binary::encode(&ty(oid, "t"), &value);
            let _ = rows::pg_text(&value, PgTarget { array: true, bytea: false });
            let _ = rows::pg_text(&value, PgTarget { array: false, bytea: true });
            let mut arguments = sqlx::sqlite::SqliteArguments::default();
            prop_assert!(crate::run::sqlite_bind(&mut arguments, &value).is_ok());
        }

        #[test]
        fn any_rows_plan_without_panic(value in json_value(), key in prop::collection::vec("[a-c]", 0..3)) {
            if let Ok(parsed) = serde_json::from_value::<Rows>(value) {
                let rows: Vec<rows::Row> = match parsed {
                    Rows::Many(rows) => rows.into_iter().map(|row| row.into_iter().collect()).collect(),
                    Rows::One(row) => vec![row.into_iter().collect()],
                };
                let key: Vec<Identifier> = key.into_iter().map(Identifier).collect();
                for key in [None, Some(key)] {
                    if let Ok(write) = Write::new("t", rows.clone(), key, true) {
                        for group in write.groups() {
                            let _ = rows::insert_sql(Dialect::Postgres, &write, &group.columns, &[], group.rows.len());
                        }
                        let _ = rows::create_table_sql(Dialect::Sqlite, &write);
                    }
                }
            }
        }

        #[test]
        fn passwords_never_show(password in "[A-Za-z0-9@:/%!#?&=+$-]{1,16}") {
            let url = format!("postgres://app:{password}@db.example:5432/app");
            prop_assert!(!Url::parse(&url).shown.contains(&password), "{}", Url::parse(&url).shown);
        }
    }

    #[test]
    fn urls_hide_their_passwords() {
        let url = Url::parse("postgres://app:s%40cret@db:5432/app?password=other&sslmode=require");
        assert_eq!(url.shown, "postgres://app:***@db:5432/app?password=***&sslmode=require");
        assert!(url.secrets.contains(&"s@cret".to_owned()));
        assert_eq!(Url::parse("sqlite://data/app.db").shown, "sqlite://data/app.db");
        assert_eq!(Url::parse("postgres://app@db/app").shown, "postgres://app@db/app");
    }
}
