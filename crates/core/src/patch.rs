//! `Option<Option<T>>` for PATCH bodies: absent = unchanged, `null` = clear, value = set.

use serde::{Deserialize, Deserializer};

/// Use as `#[serde(default, deserialize_with = "crm_core::patch::double_option")]`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct P {
        #[serde(default, deserialize_with = "super::double_option")]
        x: Option<Option<i32>>,
    }

    #[test]
    fn absent_null_and_value_are_told_apart() {
        assert_eq!(serde_json::from_str::<P>("{}").unwrap().x, None);
        assert_eq!(
            serde_json::from_str::<P>(r#"{"x": null}"#).unwrap().x,
            Some(None)
        );
        assert_eq!(
            serde_json::from_str::<P>(r#"{"x": 3}"#).unwrap().x,
            Some(Some(3))
        );
    }
}
