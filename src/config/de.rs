//! A TOML value as a serde deserializer whose errors keep what went wrong as data.
//!
//! The `toml` crate's own deserializer turns serde's errors into text at once. Ours keeps an
//! unknown key together with the keys the table has, so that the message can suggest the
//! closest one, and names types in TOML's words ("an array", "a table"), not Rust's.

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, Expected, IntoDeserializer, Unexpected, Visitor};
use toml::Value;

/// What is wrong with one value of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    /// A key the table does not have; `expected` are the keys it has.
    UnknownKey {
        key: String,
        expected: &'static [&'static str],
    },
    /// A string that is none of the values a key takes.
    UnknownValue {
        value: String,
        expected: &'static [&'static str],
    },
    /// A value of another TOML type than the key takes.
    WrongType { expected: String, found: String },
    /// A required key of the table is absent.
    Missing { key: &'static str },
    /// Anything else, in words: serde's, or those of a check serde cannot express.
    Message(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownKey { key, .. } => write!(f, "unknown key `{key}`"),
            Problem::UnknownValue { value, expected } => write!(
                f,
                "unknown value {value:?}, expected one of {}",
                expected.join(", ")
            ),
            Problem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            Problem::Missing { key } => write!(f, "missing key `{key}`"),
            Problem::Message(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Problem {}

impl de::Error for Problem {
    fn custom<T: fmt::Display>(message: T) -> Problem {
        Problem::Message(message.to_string())
    }

    fn invalid_type(found: Unexpected<'_>, expected: &dyn Expected) -> Problem {
        Problem::WrongType {
            expected: toml_expected(expected),
            found: toml_found(&found),
        }
    }

    fn invalid_value(found: Unexpected<'_>, expected: &dyn Expected) -> Problem {
        match found {
            // The grace periods: a `u64` given a negative integer.
            Unexpected::Signed(number) if number < 0 => {
                Problem::Message(format!("must not be negative, found {number}"))
            }
            found => Problem::Message(format!(
                "invalid value {found}, expected {}",
                toml_expected(expected)
            )),
        }
    }

    fn unknown_variant(value: &str, expected: &'static [&'static str]) -> Problem {
        Problem::UnknownValue {
            value: value.to_owned(),
            expected,
        }
    }

    fn unknown_field(key: &str, expected: &'static [&'static str]) -> Problem {
        Problem::UnknownKey {
            key: key.to_owned(),
            expected,
        }
    }

    fn missing_field(key: &'static str) -> Problem {
        Problem::Missing { key }
    }
}

/// What a visitor expects, in TOML's words: serde's collections are TOML's arrays and tables,
/// and the only integers of the configuration are `u64` milliseconds.
fn toml_expected(expected: &dyn Expected) -> String {
    match expected.to_string().as_str() {
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        "u64" => "an integer".to_owned(),
        other => other.to_owned(),
    }
}

/// The TOML type of a value that was not expected.
fn toml_found(found: &Unexpected<'_>) -> String {
    let name = match found {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Signed(_) | Unexpected::Unsigned(_) => "an integer",
        Unexpected::Float(_) => "a float",
        Unexpected::Char(_) | Unexpected::Str(_) => "a string",
        Unexpected::Seq => "an array",
        Unexpected::Map => "a table",
        Unexpected::Other(other) => other,
        other => return other.to_string(),
    };
    name.to_owned()
}

/// One TOML value to deserialize from.
pub(super) struct ValueDeserializer(pub(super) Value);

impl<'de> IntoDeserializer<'de, Problem> for ValueDeserializer {
    type Deserializer = ValueDeserializer;

    fn into_deserializer(self) -> ValueDeserializer {
        self
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = Problem;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        match self.0 {
            Value::String(text) => visitor.visit_string(text),
            Value::Integer(number) => visitor.visit_i64(number),
            Value::Float(number) => visitor.visit_f64(number),
            Value::Boolean(flag) => visitor.visit_bool(flag),
            Value::Datetime(_) => Err(de::Error::invalid_type(
                Unexpected::Other("a datetime"),
                &visitor,
            )),
            Value::Array(items) => visitor.visit_seq(SeqDeserializer::new(
                items.into_iter().map(ValueDeserializer),
            )),
            Value::Table(table) => visitor.visit_map(MapDeserializer::new(
                table
                    .into_iter()
                    .map(|(key, value)| (key, ValueDeserializer(value))),
            )),
        }
    }

    /// A key that is present holds a value: absent keys never reach a deserializer.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        visitor.visit_some(self)
    }

    /// The configuration's enums are strings naming a unit variant.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Problem> {
        match self.0 {
            Value::String(text) => visitor.visit_enum(text.into_deserializer()),
            other => Err(wrong_type("a string", &other)),
        }
    }

    /// A table only: serde's derived structs would also take an array, field by position.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Problem> {
        match self.0 {
            Value::Table(_) => self.deserialize_any(visitor),
            other => Err(wrong_type("a table", &other)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn wrong_type(expected: &str, found: &Value) -> Problem {
    Problem::WrongType {
        expected: expected.to_owned(),
        found: type_name(found).to_owned(),
    }
}

/// The TOML type of a value, as the messages say it.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}
