//! Tag names as records carry them: trimmed, 1–50 characters, at most 50 per record, unique
//! case-insensitively (the first spelling wins).

use std::collections::HashSet;

use serde::Deserializer;
use serde::de::{IgnoredAny, SeqAccess, Visitor};

use crate::error::FieldError;

/// Most tags on one record.
pub const MAX_TAGS: usize = 50;
/// Longest tag name, in characters.
pub const MAX_TAG_LEN: usize = 50;

/// Normalises a record's tags, or names the problem under `tags`. The count is checked before
/// any work (a request may carry tens of thousands of entries) and duplicates are found with a
/// set, so the cost is linear in the input.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut seen: HashSet<String> = HashSet::with_capacity(tags.len());
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_LEN {
            return Err(FieldError::new(
                "tags",
                format!("each tag must be 1 to {MAX_TAG_LEN} characters"),
            ));
        }
        if seen.insert(tag.to_lowercase()) {
            out.push(tag.to_owned());
        }
    }
    Ok(out)
}

/// Reads a tag list from a request body but keeps at most `MAX_TAGS + 1` entries: the rest are
/// skipped unread (a 1 MiB body can carry a hundred thousand tags, and building them costs more
/// than refusing them). One over the limit is enough for [`normalize_tags`] to refuse the list.
/// For `#[serde(default, deserialize_with = "crm_core::tags::first_tags")]`.
pub fn first_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_seq(FirstTags)
}

/// [`first_tags`] for an optional list; `null` is `None`.
pub fn first_tags_or_null<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    d.deserialize_option(OptionalTags)
}

/// [`first_tags`] for a list that may be absent but not `null`.
pub fn first_tags_if_given<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    first_tags(d).map(Some)
}

struct FirstTags;

impl<'de> Visitor<'de> for FirstTags {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of tag names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut tags = Vec::new();
        while tags.len() <= MAX_TAGS {
            match seq.next_element::<String>()? {
                Some(tag) => tags.push(tag),
                None => return Ok(tags),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(tags)
    }
}

struct OptionalTags;

impl<'de> Visitor<'de> for OptionalTags {
    type Value = Option<Vec<String>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of tag names or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        first_tags(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_and_deduplicated_case_insensitively() {
        let tags = normalize_tags(&[" VIP ".into(), "vip".into(), "lead".into()]).unwrap();
        assert_eq!(tags, ["VIP", "lead"]);
        assert!(normalize_tags(&["".into()]).is_err());
        assert!(normalize_tags(&["x".repeat(51)]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
        // Counted as sent: 51 entries are too many even if they name fewer tags.
        let repeated: Vec<String> = (0..51).map(|_| "same".to_owned()).collect();
        assert!(normalize_tags(&repeated).is_err());
    }

    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "first_tags")]
        tags: Vec<String>,
        #[serde(default, deserialize_with = "first_tags_or_null")]
        more: Option<Vec<String>>,
    }

    #[test]
    fn a_long_list_is_read_only_to_one_over_the_limit() {
        let many: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
        let body: Body =
            serde_json::from_value(serde_json::json!({"tags": many, "more": null})).unwrap();
        assert_eq!(body.tags.len(), MAX_TAGS + 1);
        assert!(body.more.is_none());
        assert!(normalize_tags(&body.tags).is_err());
        let body: Body = serde_json::from_str(r#"{"more": ["a", "b"]}"#).unwrap();
        assert_eq!((body.tags.len(), body.more.unwrap().len()), (0, 2));
        assert!(serde_json::from_str::<Body>(r#"{"tags": "x"}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"tags": [1]}"#).is_err());
    }

    #[test]
    fn a_huge_tag_list_is_refused_before_any_work() {
        let huge: Vec<String> = (0..50_000).map(|i| format!("tag{i}")).collect();
        let err = normalize_tags(&huge).unwrap_err();
        assert_eq!(err.message, format!("at most {MAX_TAGS} tags"));
    }
}
