//! `system.pipelines`: one row per processor with its counters, read at
//! query time.

use std::sync::{Arc, Weak};

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::error::Result;
use tidewater_query::system::BatchTable;

use crate::handle::Pipelines;

/// `system.pipelines`.
#[derive(Debug)]
pub struct PipelinesTable;

impl PipelinesTable {
    /// `system.pipelines` over `pipelines` (held weakly); register it as `pipelines`.
    pub fn provider(pipelines: &Arc<Pipelines>) -> Arc<dyn TableProvider> {
        let pipelines: Weak<Pipelines> = Arc::downgrade(pipelines);
        BatchTable::provider(schema(), move || match pipelines.upgrade() {
            Some(p) => batch(&p),
            None => Ok(RecordBatch::new_empty(schema())),
        })
    }
}

fn schema() -> SchemaRef {
    let n = |name: &str, nullable: bool| Field::new(name, DataType::UInt64, nullable);
    Arc::new(Schema::new(vec![
        Field::new("signal", DataType::Utf8, false),
        n("position", false),
        Field::new("name", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        n("items_in", false),
        n("items_out", false),
        n("dropped", false),
        n("refused", false),
        n("errors", false),
        n("delivered", true),
        n("undelivered", true),
        n("queued_bytes", true),
    ]))
}

fn batch(p: &Pipelines) -> Result<RecordBatch> {
    let s = p.stats();
    let text = |f: &dyn Fn(&crate::pipeline::StageStats) -> String| -> ArrayRef {
        Arc::new(StringArray::from(s.iter().map(f).collect::<Vec<_>>()))
    };
    let num = |f: &dyn Fn(&crate::pipeline::StageStats) -> Option<u64>| -> ArrayRef {
        Arc::new(UInt64Array::from(s.iter().map(f).collect::<Vec<_>>()))
    };
    let columns = vec![
        text(&|x| x.signal.to_string()),
        num(&|x| Some(x.position as u64)),
        text(&|x| x.name.clone()),
        text(&|x| x.kind.to_string()),
        num(&|x| Some(x.items_in)),
        num(&|x| Some(x.items_out)),
        num(&|x| Some(x.dropped)),
        num(&|x| Some(x.refused)),
        num(&|x| Some(x.errors)),
        num(&|x| x.delivery.map(|d| d.delivered)),
        num(&|x| x.delivery.map(|d| d.undelivered)),
        num(&|x| x.delivery.map(|d| d.queued_bytes)),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}
