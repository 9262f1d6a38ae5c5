//! Range checks shared by the algorithms' config validation; each error names the key and the value.

/// Every count must be at least 1.
pub fn positive_counts(values: &[(&str, usize)]) -> Result<(), String> {
    match values.iter().find(|(_, v)| *v == 0) {
        Some((k, _)) => Err(format!("{k} must be positive, got 0")),
        None => Ok(()),
    }
}

/// Every value must lie in [0, 1].
pub fn unit_interval(values: &[(&str, f64)]) -> Result<(), String> {
    match values.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
        Some((k, v)) => Err(format!("{k} must be in [0, 1], got {v}")),
        None => Ok(()),
    }
}

/// Every value must be a positive number (NaN is not).
pub fn positive_reals(values: &[(&str, f64)]) -> Result<(), String> {
    match values.iter().find(|(_, v)| v.is_nan() || *v <= 0.0) {
        Some((k, v)) => Err(format!("{k} must be positive, got {v}")),
        None => Ok(()),
    }
}

/// Every layer width must be at least 1: a zero-width layer would cut the network in two.
pub fn positive_widths(values: &[(&str, &[usize])]) -> Result<(), String> {
    match values.iter().find(|(_, w)| w.contains(&0)) {
        Some((k, w)) => Err(format!("{k} = {w:?}: every layer width must be positive")),
        None => Ok(()),
    }
}

/// A batch is drawn from the buffer: it must not be larger.
pub fn batch_fits(batch_size: usize, buffer_size: usize) -> Result<(), String> {
    if batch_size > buffer_size {
        return Err(format!(
            "batch_size ({batch_size}) must not exceed buffer_size ({buffer_size})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_first_bad_key() {
        assert_eq!(
            positive_counts(&[("a", 1), ("b", 0)]),
            Err("b must be positive, got 0".into())
        );
        assert_eq!(
            unit_interval(&[("g", 1.5)]),
            Err("g must be in [0, 1], got 1.5".into())
        );
        assert!(positive_reals(&[("lr", f64::NAN)]).is_err());
        assert!(positive_counts(&[("a", 1)]).is_ok() && unit_interval(&[("g", 0.0)]).is_ok());
        assert_eq!(
            positive_widths(&[("hidden", &[64]), ("head_hidden", &[8, 0])]),
            Err("head_hidden = [8, 0]: every layer width must be positive".into())
        );
        assert!(positive_widths(&[("hidden", &[])]).is_ok());
        assert!(batch_fits(33, 32).is_err() && batch_fits(32, 32).is_ok());
    }
}
