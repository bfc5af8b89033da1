//! "Did you mean …?" by edit distance.

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(input, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance > 0 && *distance <= limit || (candidate.starts_with(input) && input.len() >= 3)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// A help line: "did you mean `x`?" when one is close, else the list of what is allowed.
pub fn help_for_unknown<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>, what: &str) -> Option<String> {
    let mut candidates: Vec<&str> = candidates.into_iter().collect();
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|candidate| seen.insert(*candidate));
    if let Some(best) = did_you_mean(input, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    let all: Vec<String> = candidates.into_iter().map(|name| format!("`{name}`")).collect();
    (!all.is_empty()).then(|| format!("{what}: {}", all.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_not_strangers() {
        let keys = ["steps", "state", "flow", "trigger", "on_failure"];
        assert_eq!(did_you_mean("stpes", keys), Some("steps"));
        assert_eq!(did_you_mean("triger", keys), Some("trigger"));
        assert_eq!(did_you_mean("on_fail", keys), Some("on_failure"));
        assert_eq!(did_you_mean("banana", keys), None);
    }
}
