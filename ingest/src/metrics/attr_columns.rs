//! Attribute columns of a table being built, cheap per point.
//!
//! Resource and scope attributes are the same for every point of a scope,
//! so they are recorded once per run of rows (`runs`); point attributes are
//! recorded per row (`cells`) and win over a run's value for the same key.
//! Values are interned per column, so the dictionary is built without
//! hashing every cell again.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, Int32Array, StringArray};
use arrow::datatypes::Int32Type;

/// One attribute column.
#[derive(Default)]
struct Column {
    values: Vec<String>,
    index: HashMap<String, i32, RandomState>,
    /// `(first row, end row, key)` for resource/scope attributes.
    runs: Vec<(u32, u32, i32)>,
    /// `(row, key)` for point attributes.
    cells: Vec<(u32, i32)>,
}

impl Column {
    fn intern(&mut self, v: &str) -> i32 {
        if let Some(k) = self.index.get(v) {
            return *k;
        }
        let k = self.values.len() as i32;
        self.values.push(v.to_string());
        self.index.insert(v.to_string(), k);
        k
    }

    fn finish(self, rows: usize) -> ArrayRef {
        let mut keys: Vec<Option<i32>> = vec![None; rows];
        for (start, end, k) in self.runs {
            for slot in &mut keys[start as usize..end as usize] {
                *slot = Some(k);
            }
        }
        for (row, k) in self.cells {
            keys[row as usize] = Some(k);
        }
        let dict =
            DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::new(StringArray::from(self.values)));
        match dict {
            Ok(d) => Arc::new(d),
            // Keys are in range by construction; an empty column is the fallback.
            Err(_) => Arc::new(DictionaryArray::<Int32Type>::from_iter(std::iter::repeat_n(None::<&str>, rows))),
        }
    }
}

/// All attribute columns of a table, by normalised name.
#[derive(Default)]
pub struct AttrColumns {
    names: HashMap<String, usize, RandomState>,
    columns: Vec<Column>,
}

impl AttrColumns {
    fn column(&mut self, name: &str) -> &mut Column {
        let i = match self.names.get(name) {
            Some(i) => *i,
            None => {
                self.columns.push(Column::default());
                self.names.insert(name.to_string(), self.columns.len() - 1);
                self.columns.len() - 1
            }
        };
        &mut self.columns[i]
    }

    /// Rows `start..end` carry these (resource and scope) attributes.
    pub fn push_run<'a>(&mut self, start: u32, end: u32, attrs: impl IntoIterator<Item = (&'a String, &'a String)>) {
        if start == end {
            return;
        }
        for (name, value) in attrs {
            let c = self.column(name);
            let k = c.intern(value);
            c.runs.push((start, end, k));
        }
    }

    /// Row `row` carries this point attribute.
    pub fn push_cell(&mut self, row: u32, name: &str, value: &str) {
        let c = self.column(name);
        let k = c.intern(value);
        c.cells.push((row, k));
    }

    /// The finished columns, sorted by name.
    pub fn finish(self, rows: usize) -> Vec<(String, ArrayRef)> {
        let mut columns: Vec<Option<Column>> = self.columns.into_iter().map(Some).collect();
        let mut names: Vec<(String, usize)> = self.names.into_iter().collect();
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        names
            .into_iter()
            .filter_map(|(name, i)| columns.get_mut(i).and_then(Option::take).map(|c| (name, c.finish(rows))))
            .collect()
    }
}
