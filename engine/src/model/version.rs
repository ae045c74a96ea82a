//! Orderings of version strings.

use std::cmp::Ordering;

/// Kubernetes' version priority (the order discovery and kubectl use to
/// pick a preferred version): GA before beta before alpha, higher numbers
/// first within each; strings that are not Kubernetes versions come last,
/// alphabetically. `Less` means "preferred".
pub(crate) fn kube_priority(a: &str, b: &str) -> Ordering {
    match (parse_kube(a), parse_kube(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// (stability, major, minor) with GA = 2, beta = 1, alpha = 0.
fn parse_kube(version: &str) -> Option<(u8, u64, u64)> {
    let rest = version.strip_prefix('v')?;
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let major: u64 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    if rest.is_empty() {
        return Some((2, major, 0));
    }
    let (stability, minor) = if let Some(minor) = rest.strip_prefix("beta") {
        (1, minor)
    } else if let Some(minor) = rest.strip_prefix("alpha") {
        (0, minor)
    } else {
        return None;
    };
    if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stability, major, minor.parse().ok()?))
}

/// Natural order for upstream versions (`v1.9.1` < `v1.10.0`): digit runs
/// compare as numbers, everything else as text.
pub(crate) fn natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (chunks(a), chunks(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let order = match (p.parse::<u128>(), q.parse::<u128>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => p.cmp(q),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

fn chunks(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let digit = rest.as_bytes()[0].is_ascii_digit();
        let end = rest.find(|c: char| c.is_ascii_digit() != digit).unwrap_or(rest.len());
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_priority_matches_discovery() {
        let mut versions = vec!["v1alpha1", "v1beta1", "v2", "v1", "v2beta2", "foo", "v10", "v11alpha2"];
        versions.sort_by(|a, b| kube_priority(a, b));
        assert_eq!(versions, ["v10", "v2", "v1", "v2beta2", "v1beta1", "v11alpha2", "v1alpha1", "foo"]);
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural("v1.9.1", "v1.10.0"), Ordering::Less);
        assert_eq!(natural("v1.35.0", "v1.35.0"), Ordering::Equal);
        assert_eq!(natural("1.30.3", "1.4.0"), Ordering::Greater);
    }
}
