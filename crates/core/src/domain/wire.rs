//! How request fields are read off the wire where serde's derived rules and the OpenAPI
//! document disagree. A derived struct also accepts a JSON array of its fields in order
//! (`"metadata": [null, null]`), which the document does not allow; and JSON Schema counts
//! `9.0` as an integer, which serde refuses for an integer field. These readers make the
//! server accept exactly what the document says.

use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

struct ObjectOnly<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

/// A struct read from a JSON object only.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(ObjectOnly(PhantomData))
}

/// An optional struct: `null`, or an object.
pub fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    struct Optional<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Optional<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("null or an object")
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Option<T>, D2::Error> {
            object(d).map(Some)
        }
    }
    d.deserialize_option(Optional(PhantomData))
}

/// A whole number, written as an integer or as a number with no fraction (`9` or `9.0`).
fn whole<E: de::Error>(v: f64) -> Result<i64, E> {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Ok(v as i64)
    } else {
        Err(E::invalid_value(
            de::Unexpected::Float(v),
            &"a whole number",
        ))
    }
}

struct Whole;

impl<'de> Visitor<'de> for Whole {
    type Value = i64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a whole number")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        whole(v)
    }
}

/// A count (`top_k`, `length`): a whole number that is not negative.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v = d.deserialize_any(Whole)?;
    usize::try_from(v).map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &"a count"))
}

/// An optional count.
pub fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrap(#[serde(deserialize_with = "count")] usize);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// An optional year (or other 32-bit whole number).
pub fn optional_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrap(#[serde(deserialize_with = "whole_i32")] i32);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

fn whole_i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let v = d.deserialize_any(Whole)?;
    i32::try_from(v)
        .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &"a 32-bit whole number"))
}

/// An optional 32-bit count (a track number, a bit rate).
pub fn optional_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrap(#[serde(deserialize_with = "whole_u32")] u32);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

fn whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = d.deserialize_any(Whole)?;
    u32::try_from(v)
        .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &"a 32-bit count"))
}

/// A size in bytes: a whole number from 0 to 2^63 - 1.
pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = d.deserialize_any(Whole)?;
    u64::try_from(v).map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &"a size"))
}

/// A 64-bit whole number (a time in seconds).
pub fn whole_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(Whole)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Inner {
        a: Option<u8>,
        b: Option<u8>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Outer {
        #[serde(deserialize_with = "super::object")]
        inner: Inner,
        #[serde(deserialize_with = "super::optional_object")]
        maybe: Option<Inner>,
        #[serde(deserialize_with = "super::count")]
        top_k: usize,
        #[serde(deserialize_with = "super::optional_i32")]
        year: Option<i32>,
    }

    fn read(s: &str) -> Result<Outer, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn structs_come_from_objects_and_whole_numbers_from_either_spelling() {
        let ok =
            read(r#"{"inner": {"a": 1}, "maybe": null, "top_k": 9.0, "year": 1999.0}"#).unwrap();
        assert_eq!(
            (ok.inner.a, ok.maybe, ok.top_k, ok.year),
            (Some(1), None, 9, Some(1999))
        );
        assert!(read(r#"{"maybe": {"b": 2}}"#).unwrap().maybe.is_some());
        assert_eq!(read("{}").unwrap(), Outer::default());
        for bad in [
            r#"{"inner": [1, 2]}"#,
            r#"{"inner": []}"#,
            r#"{"maybe": [null, null]}"#,
            r#"{"top_k": 9.5}"#,
            r#"{"top_k": -1}"#,
            r#"{"year": 1e12}"#,
            r#"{"year": "1999"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad} was accepted");
        }
    }
}
