//! One file per processor; [`build`] makes one from its config.

pub mod attributes;
pub mod cardinality;
pub mod filter;
pub mod parse;
pub mod promote;
pub mod redact;
pub mod rename;
pub mod sample;

use std::sync::Arc;

use crate::config::{ProcessorConfig, Signal};
use crate::error::{Error, Result};
use crate::forward::Forward;
use crate::processor::Processor;

/// Build the processor `config` describes for `signal` (a `forward` starts
/// its sending task).
pub fn build(config: &ProcessorConfig, signal: Signal) -> Result<Arc<dyn Processor>> {
    let c = config.clone();
    Ok(match c {
        ProcessorConfig::Filter(c) => Arc::new(filter::Filter::new(c)),
        ProcessorConfig::Attributes(c) => Arc::new(attributes::Attributes::new(c)),
        ProcessorConfig::Redact(c) => {
            let name = c.name.clone();
            Arc::new(redact::Redact::new(c).map_err(|e| Error::Config(format!("processor {name:?}: {e}")))?)
        }
        ProcessorConfig::Promote(c) => Arc::new(promote::Promote::new(c)),
        ProcessorConfig::Rename(c) => Arc::new(rename::Rename::new(c)),
        ProcessorConfig::Parse(c) => Arc::new(parse::Parse::new(c)),
        ProcessorConfig::Sample(c) => {
            let seed =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            Arc::new(sample::Sample::new(c, seed))
        }
        ProcessorConfig::CardinalityLimit(c) => Arc::new(cardinality::CardinalityLimit::new(c)),
        ProcessorConfig::Forward(c) => Arc::new(Forward::start(c, signal)?),
    })
}
