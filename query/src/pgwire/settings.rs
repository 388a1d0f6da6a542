//! What a PostgreSQL client asks about the server: `version()`,
//! `current_setting(name [, missing_ok])` and `SHOW name`, answered from a
//! fixed table of PostgreSQL 16 defaults overlaid with the connection's own
//! parameters (startup parameters and `SET`s the session hooks keep per
//! connection). `SHOW` of a name not in the table falls through to
//! `datafusion-postgres`'s own `SHOW` handling.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{exec_err, plan_err, DFSchema, ParamValues, Result};
use datafusion::functions::utils::make_scalar_function;
use datafusion::logical_expr::{
    ColumnarValue, EmptyRelation, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response};
use datafusion_postgres::pgwire::api::{ClientInfo, Type};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};

/// The PostgreSQL version we claim: the one pgwire announces in the startup
/// `server_version` parameter (`16.6-pgwire-...`).
pub const SERVER_VERSION: &str = "16.6";
/// [`SERVER_VERSION`] as `server_version_num`.
pub const SERVER_VERSION_NUM: &str = "160006";

/// Settings that do not depend on the connection.
const DEFAULTS: &[(&str, &str)] = &[
    ("server_version", SERVER_VERSION),
    ("server_version_num", SERVER_VERSION_NUM),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("search_path", "public"), // what pgwire announces and `SHOW search_path` says
    ("timezone", "UTC"),
    ("datestyle", "ISO, MDY"),
    ("intervalstyle", "postgres"),
    ("bytea_output", "hex"),
    ("extra_float_digits", "1"),
    ("standard_conforming_strings", "on"),
    ("integer_datetimes", "on"),
    ("max_identifier_length", "63"),
    ("block_size", "8192"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("is_superuser", "off"),
    ("application_name", ""),
    ("statement_timeout", "0"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "on"),
    ("default_transaction_read_only", "on"),
];

/// Connection parameters (pgwire metadata keys) that override a default.
const FROM_CONNECTION: &[(&str, &str)] = &[
    ("application_name", "application_name"),
    ("client_encoding", "client_encoding"),
    ("datestyle", "datestyle"),
    ("DateStyle", "datestyle"),
    ("intervalstyle", "intervalstyle"),
    ("IntervalStyle", "intervalstyle"),
    ("bytea_output", "bytea_output"),
    ("extra_float_digits", "extra_float_digits"),
    ("search_path", "search_path"),
    ("timezone", "timezone"),
    ("TimeZone", "timezone"),
];

/// The settings of a connection whose parameters are `connection`, by
/// lower-case name.
fn settings(connection: &HashMap<String, String>) -> BTreeMap<String, String> {
    let mut settings: BTreeMap<String, String> =
        DEFAULTS.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    for (key, setting) in FROM_CONNECTION {
        if let Some(v) = connection.get(*key).filter(|v| !v.is_empty()) {
            settings.insert((*setting).to_string(), v.clone());
        }
    }
    settings
}

/// Register `version()` and `current_setting()` on `ctx` for a connection
/// whose parameters are `connection`.
pub fn register(ctx: &SessionContext, connection: &HashMap<String, String>) {
    ctx.register_udf(ScalarUDF::from(CurrentSetting {
        settings: Arc::new(settings(connection)),
        signature: Signature::user_defined(Volatility::Stable),
    }));
    ctx.register_udf(ScalarUDF::from(Version { signature: Signature::nullary(Volatility::Immutable) }));
}

/// `version()`: a PostgreSQL-shaped string (tools parse `PostgreSQL X.Y`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Version {
    signature: Signature,
}

impl ScalarUDFImpl for Version {
    fn name(&self) -> &str {
        "version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(version_string().into()))
    }
}

/// The text `version()` answers.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (Tidewater {}, Apache DataFusion {}) on {}-{}",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION,
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// `current_setting(name [, missing_ok])`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    settings: Arc<BTreeMap<String, String>>,
    signature: Signature,
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        match t.len() {
            1 => Ok(vec![DataType::Utf8]),
            2 => Ok(vec![DataType::Utf8, DataType::Boolean]),
            n => plan_err!("current_setting(name [, missing_ok]) takes 1 or 2 arguments, not {n}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let settings = self.settings.clone();
        make_scalar_function(move |columns: &[ArrayRef]| lookup(&settings, columns), vec![])(&args.args)
    }
}

fn lookup(settings: &BTreeMap<String, String>, columns: &[ArrayRef]) -> Result<ArrayRef> {
    let Some(names) = columns.first() else {
        return exec_err!("current_setting needs a setting name");
    };
    let names = cast(names, &DataType::Utf8)?;
    let Some(names) = names.as_any().downcast_ref::<StringArray>() else {
        return exec_err!("current_setting: name is not text");
    };
    let missing_ok = match columns.get(1) {
        Some(c) => Some(cast(c, &DataType::Boolean)?),
        None => None,
    };
    let missing_ok = missing_ok.as_ref().and_then(|c| c.as_any().downcast_ref::<BooleanArray>());
    let mut out = Vec::with_capacity(names.len());
    for row in 0..names.len() {
        if names.is_null(row) {
            out.push(None);
            continue;
        }
        let name = names.value(row);
        match settings.get(&name.to_ascii_lowercase()) {
            Some(v) => out.push(Some(v.clone())),
            None if missing_ok.is_some_and(|m| m.is_valid(row) && m.value(row)) => out.push(None),
            None => return exec_err!("unrecognized configuration parameter \"{name}\""),
        }
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `SHOW name` for the settings above, with the column named after the
/// setting as PostgreSQL does; put it before `SetShowHook`.
#[derive(Debug)]
pub struct ShowHook;

/// The setting a `SHOW` asks for, if it is one of ours.
fn shown(statement: &Statement, connection: &HashMap<String, String>) -> Option<(String, String)> {
    let Statement::ShowVariable { variable } = statement else { return None };
    let [name] = variable.as_slice() else { return None };
    let value = settings(connection).get(&name.value.to_ascii_lowercase())?.clone();
    Some((name.value.clone(), value))
}

fn show_response(name: &str, value: &str) -> PgWireResult<Response> {
    let fields = Arc::new(vec![FieldInfo::new(name.to_string(), None, None, Type::TEXT, FieldFormat::Text)]);
    let mut encoder = DataRowEncoder::new(fields.clone());
    encoder.encode_field(&Some(value))?;
    let row = encoder.take_row();
    Ok(Response::Query(QueryResponse::new(fields, Box::pin(futures::stream::iter([Ok(row)])))))
}

#[async_trait]
impl QueryHook for ShowHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let (name, value) = shown(statement, client.metadata())?;
        Some(show_response(&name, &value))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let (name, _) = shown(statement, client.metadata())?;
        let schema = Schema::new(vec![Field::new(name, DataType::Utf8, false)]);
        Some(
            DFSchema::try_from(schema)
                .map(|schema| {
                    LogicalPlan::EmptyRelation(EmptyRelation { produce_one_row: true, schema: Arc::new(schema) })
                })
                .map_err(|e| PgWireError::ApiError(Box::new(e))),
        )
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let (name, value) = shown(statement, client.metadata())?;
        // Text and binary encodings of `text` are the same bytes.
        Some(show_response(&name, &value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;

    async fn one(ctx: &SessionContext, sql: &str) -> Result<Option<String>> {
        let batches = ctx.sql(sql).await?.collect().await?;
        let col = cast(batches[0].column(0), &DataType::Utf8)?;
        let col = col.as_string::<i32>();
        Ok(col.is_valid(0).then(|| col.value(0).to_string()))
    }

    #[tokio::test]
    async fn settings_come_from_defaults_then_the_connection() {
        let ctx = SessionContext::new();
        let conn = HashMap::from([("application_name".to_string(), "grafana".to_string())]);
        register(&ctx, &conn);
        assert_eq!(one(&ctx, "SELECT current_setting('server_version_num')").await.unwrap().as_deref(), Some("160006"));
        assert_eq!(one(&ctx, "SELECT current_setting('TimeZone')").await.unwrap().as_deref(), Some("UTC"));
        assert_eq!(one(&ctx, "SELECT current_setting('application_name')").await.unwrap().as_deref(), Some("grafana"));
        assert_eq!(one(&ctx, "SELECT current_setting('no_such', true)").await.unwrap(), None);
        let err = one(&ctx, "SELECT current_setting('no_such')").await.unwrap_err();
        assert!(err.to_string().contains("unrecognized configuration parameter \"no_such\""), "{err}");
        let v = one(&ctx, "SELECT version()").await.unwrap().unwrap_or_default();
        assert!(v.starts_with("PostgreSQL 16.6 (Tidewater "), "{v}");
    }
}
