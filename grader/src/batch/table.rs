//! The class table, `class.csv`: one row per student, written by `batch`
//! and read back by `merge`.
//!
//! CSV as RFC 4180 has it (CRLF line ends, a field quoted only when it
//! holds a comma, a quote or a line break), which every spreadsheet and
//! Gradescope's and the LMSs' grade imports read. The `csv` crate does the
//! quoting both ways, so a note holding a quote or a comma survives a
//! batch and a merge unchanged.

use std::path::Path;

/// A class table: its header and its rows, every cell as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// `student`, one column per exercise, `total`, `max`, `notes`.
    pub header: Vec<String>,
    /// One row per student, the student's name first.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The table as CSV text.
    pub fn to_csv(&self) -> String {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        for record in std::iter::once(&self.header).chain(&self.rows) {
            writer
                .write_record(record)
                .expect("writing to memory cannot fail");
        }
        let bytes = writer.into_inner().expect("writing to memory cannot fail");
        String::from_utf8(bytes).expect("the cells are text")
    }

    /// Reads a class table; every row must have the header's width.
    pub fn read(path: &Path) -> Result<Table, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .iter()
            .map(String::from)
            .collect();
        if header.first().map(String::as_str) != Some("student") {
            return Err(format!(
                "{}: not a class table (its first column is not `student`)",
                path.display()
            ));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
            rows.push(record.iter().map(String::from).collect());
        }
        Ok(Table { header, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let table = Table {
            header: vec!["student".into(), "total".into(), "notes".into()],
            rows: vec![vec!["alice".into(), "20".into(), "a, \"b\"\nc".into()]],
        };
        assert_eq!(
            table.to_csv(),
            "student,total,notes\r\nalice,20,\"a, \"\"b\"\"\nc\"\r\n"
        );
    }

    #[test]
    fn a_table_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let table = Table {
            header: vec!["student".into(), "total".into(), "notes".into()],
            rows: vec![
                vec!["alice".into(), "20".into(), String::new()],
                vec!["bob".into(), "0".into(), "03 \"x\", then y".into()],
            ],
        };
        let path = dir.path().join("class.csv");
        std::fs::write(&path, table.to_csv()).unwrap();
        assert_eq!(Table::read(&path).unwrap(), table);
        std::fs::write(&path, "name,total\r\nalice,20\r\n").unwrap();
        assert!(Table::read(&path)
            .unwrap_err()
            .contains("not a class table"));
        std::fs::write(&path, "student,total\r\nalice,20,extra\r\n").unwrap();
        assert!(Table::read(&path).is_err(), "a row wider than the header");
    }
}
