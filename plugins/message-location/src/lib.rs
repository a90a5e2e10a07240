//! The `courier/location` message type: a point on Earth shared without a map service.
//!
//! `prepare` takes `LAT,LON` (decimal degrees) and options `precision` (metres, default 100: the point
//! is snapped to a grid that coarse before it leaves the device), `accuracy` (metres), `label` and
//! `time` (Unix ms). The payload is an RFC 5870 `geo:` URI, e.g.
//! `geo:48.2010,16.3700;u=100;label=Cafe%20Central;t=1795000000000`, which any map app can open.
//! `validate` refuses anything out of range or malformed; `summary` reads it out in words.

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::payload::utf8;
use courier_plugin::settings::{get, only_keys, parse_or};
use courier_plugin::text_safety::is_spoofing;
use courier_plugin::uri::{percent_decode, percent_encode};

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/location";
/// Default coarsening, in metres.
pub const DEFAULT_PRECISION_M: f64 = 100.0;
const MAX_LABEL_CHARS: usize = 100;
const MAX_BYTES: u64 = 1024;
/// Metres per degree of latitude (and of longitude at the equator).
const METRES_PER_DEGREE: f64 = 111_320.0;

/// A parsed, valid location.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Latitude, degrees, -90..=90.
    pub lat: f64,
    /// Longitude, degrees, -180..=180.
    pub lon: f64,
    /// Uncertainty in metres (RFC 5870 `u`), at least the precision it was coarsened to.
    pub uncertainty_m: Option<f64>,
    /// What the place is.
    pub label: Option<String>,
    /// When, Unix ms.
    pub time_ms: Option<u64>,
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

fn coordinate(text: &str, what: &str, limit: f64) -> Result<f64, PluginError> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| invalid(format!("{what} {text:?} is not a number of degrees")))?;
    if !value.is_finite() || value.abs() > limit {
        return Err(invalid(format!(
            "{what} {value} is outside -{limit}..{limit} degrees"
        )));
    }
    Ok(value)
}

fn check_label(label: &str) -> Result<(), PluginError> {
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(invalid(format!(
            "a label is at most {MAX_LABEL_CHARS} characters"
        )));
    }
    if label.chars().any(is_spoofing) {
        return Err(invalid(
            "the label contains invisible or direction-changing characters",
        ));
    }
    Ok(())
}

/// Snaps (`lat`, `lon`) to a grid of `precision_m` metres: the exact point never leaves the device.
pub fn coarsen(lat: f64, lon: f64, precision_m: f64) -> (f64, f64) {
    let lat_step = precision_m / METRES_PER_DEGREE;
    let lat = ((lat / lat_step).round() * lat_step).clamp(-90.0, 90.0);
    // Longitude degrees shrink towards the poles; near them, one step covers the whole circle.
    let lon_step =
        (precision_m / (METRES_PER_DEGREE * lat.to_radians().cos().max(1e-6))).min(360.0);
    let mut lon = (lon / lon_step).round() * lon_step;
    if lon > 180.0 {
        lon -= 360.0;
    } else if lon < -180.0 {
        lon += 360.0;
    }
    (lat, lon)
}

/// Decimal places that show a grid of `precision_m` and no more (false precision would leak nothing,
/// but would suggest more than is there).
fn decimals(precision_m: f64) -> usize {
    let step = precision_m / METRES_PER_DEGREE;
    (-step.log10()).ceil().clamp(0.0, 7.0) as usize
}

impl Location {
    /// Reads user input `LAT,LON` with options, coarsened to the `precision` option.
    pub fn from_input(input: &str, options: &[Setting]) -> Result<(Location, f64), PluginError> {
        let (lat, lon) = input.split_once(',').ok_or_else(|| {
            invalid("a location is LAT,LON in decimal degrees, e.g. 48.2082,16.3738")
        })?;
        let (lat, lon) = (
            coordinate(lat, "latitude", 90.0)?,
            coordinate(lon, "longitude", 180.0)?,
        );
        let precision = precision(options)?;
        let accuracy: Option<f64> = match get(options, "accuracy") {
            Some(a) => Some(
                a.parse()
                    .ok()
                    .filter(|a: &f64| a.is_finite() && *a >= 0.0)
                    .ok_or_else(|| invalid("accuracy is a number of metres"))?,
            ),
            None => None,
        };
        let label = get(options, "label")
            .map(str::trim)
            .filter(|l| !l.is_empty());
        if let Some(label) = label {
            check_label(label)?;
        }
        let time_ms = match get(options, "time") {
            Some(t) => Some(
                t.parse()
                    .map_err(|_| invalid("time is Unix milliseconds"))?,
            ),
            None => None,
        };
        let (lat, lon) = coarsen(lat, lon, precision);
        let location = Location {
            lat,
            lon,
            uncertainty_m: Some(accuracy.unwrap_or(0.0).max(precision)),
            label: label.map(str::to_owned),
            time_ms,
        };
        Ok((location, precision))
    }

    /// The `geo:` URI, with as many decimals as `precision_m` warrants.
    pub fn to_uri(&self, precision_m: f64) -> String {
        let d = decimals(precision_m);
        let mut uri = format!("geo:{:.d$},{:.d$}", self.lat, self.lon);
        if let Some(u) = self.uncertainty_m {
            uri.push_str(&format!(";u={}", u.round() as u64));
        }
        if let Some(label) = &self.label {
            uri.push_str(&format!(";label={}", percent_encode(label)));
        }
        if let Some(t) = self.time_ms {
            uri.push_str(&format!(";t={t}"));
        }
        uri
    }

    /// Parses a payload `geo:` URI (RFC 5870 with `u`, and `label`/`t` extension parameters).
    pub fn from_uri(uri: &str) -> Result<Location, PluginError> {
        let rest = uri
            .strip_prefix("geo:")
            .ok_or_else(|| invalid("a location payload starts with geo:"))?;
        let mut parts = rest.split(';');
        let point = parts.next().unwrap_or("");
        let mut coords = point.split(',');
        let lat = coordinate(coords.next().unwrap_or(""), "latitude", 90.0)?;
        let lon = coordinate(coords.next().unwrap_or(""), "longitude", 180.0)?;
        if let Some(alt) = coords.next() {
            coordinate(alt, "altitude", 100_000.0)?;
        }
        if coords.next().is_some() {
            return Err(invalid("a geo: point has at most three coordinates"));
        }
        let mut location = Location {
            lat,
            lon,
            uncertainty_m: None,
            label: None,
            time_ms: None,
        };
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            match name.to_ascii_lowercase().as_str() {
                "u" => {
                    let u: f64 = value.parse().map_err(|_| invalid("u= is not a number"))?;
                    if !u.is_finite() || u < 0.0 {
                        return Err(invalid("u= must be a non-negative number of metres"));
                    }
                    location.uncertainty_m = Some(u);
                }
                "label" => {
                    let label = percent_decode(value)
                        .map_err(|e| invalid(format!("a parameter has {e}")))?;
                    check_label(&label)?;
                    location.label = Some(label);
                }
                "t" => {
                    location.time_ms = Some(value.parse().map_err(|_| invalid("t= is not a time"))?)
                }
                "crs" if value.eq_ignore_ascii_case("wgs84") => {}
                "crs" => return Err(invalid("only the wgs84 coordinate system is understood")),
                // RFC 5870: unknown parameters are ignored.
                _ => {}
            }
        }
        Ok(location)
    }

    /// A line for display: label, coordinates, uncertainty.
    pub fn summary(&self) -> String {
        // No more decimals than the uncertainty warrants: 48.212, not 48.21200, for a 1 km grid.
        let d = self
            .uncertainty_m
            .map_or(5, |u| decimals(u.max(1.0)).min(5));
        let place = format!("{:.d$}, {:.d$}", self.lat, self.lon);
        let mut text = match &self.label {
            Some(label) => format!("Location: {label} ({place})"),
            None => format!("Location: {place}"),
        };
        if let Some(u) = self.uncertainty_m {
            text.push_str(&format!(", within {} m", u.round() as u64));
        }
        text
    }
}

/// The plugin's exports.
pub struct LocationType;

/// The grid, in metres, that the `precision` option (the profile's or the user's) snaps to.
fn precision(options: &[impl courier_plugin::settings::Setting]) -> Result<f64, PluginError> {
    let precision: f64 =
        parse_or(options, "precision", DEFAULT_PRECISION_M).map_err(PluginError::InvalidInput)?;
    if !(1.0..=1_000_000.0).contains(&precision) {
        return Err(invalid("precision is 1 to 1,000,000 metres"));
    }
    Ok(precision)
}

impl ContentType for LocationType {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_BYTES;

    const SETTINGS: &'static [&'static str] = &["precision"];

    fn check_settings(settings: &[Setting]) -> Result<(), PluginError> {
        only_keys(settings, Self::SETTINGS).map_err(PluginError::InvalidInput)?;
        precision(settings).map(drop)
    }

    fn prepare(input: &[u8], options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        let (location, precision) =
            Location::from_input(utf8(input, MAX_BYTES, "a location")?, options)?;
        Ok(location.to_uri(precision).into_bytes())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        Location::from_uri(utf8(payload, MAX_BYTES, "a location")?).map(drop)
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        Ok(Location::from_uri(utf8(payload, MAX_BYTES, "a location")?)?.summary())
    }
}

/// The plugin's exports.
pub type Plugin = Exports<LocationType>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::message_type::exports::courier::plugin::content::Guest;

    fn options(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(k, v)| Setting {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect()
    }

    fn prepare(input: &str, pairs: &[(&str, &str)]) -> Result<String, PluginError> {
        Plugin::prepare(input.as_bytes().to_vec(), options(pairs), 1)
            .map(|p| String::from_utf8(p).unwrap())
    }

    /// Distance in metres between two points (haversine).
    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let (la1, lo1, la2, lo2) = (
            a.0.to_radians(),
            a.1.to_radians(),
            b.0.to_radians(),
            b.1.to_radians(),
        );
        let h = ((la2 - la1) / 2.0).sin().powi(2)
            + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6_371_000.0 * h.sqrt().asin()
    }

    #[test]
    fn coordinates_are_coarsened_to_the_precision_asked_and_no_finer() {
        let exact = (48.208_176, 16.373_819);
        for precision in [100.0, 1_000.0] {
            let uri = prepare(
                "48.208176,16.373819",
                &[("precision", &precision.to_string())],
            )
            .unwrap();
            let sent = Location::from_uri(&uri).unwrap();
            let moved = metres(exact, (sent.lat, sent.lon));
            assert!(
                moved <= precision,
                "{uri}: moved {moved:.0} m for a {precision} m grid"
            );
            assert_eq!(sent.uncertainty_m, Some(precision));
            // Two points in the same cell come out identical: the exact one cannot be told apart.
            let near = prepare(
                "48.208180,16.373810",
                &[("precision", &precision.to_string())],
            )
            .unwrap();
            assert_eq!(uri, near);
        }
        let km = prepare("48.208176,16.373819", &[("precision", "1000")]).unwrap();
        assert!(
            km.starts_with("geo:48.21")
                && km.split([',', ';']).next().unwrap().len() == "geo:48.212".len(),
            "{km}"
        );
        let default = prepare("48.208176,16.373819", &[]).unwrap();
        assert!(default.contains(";u=100"), "{default}");
    }

    #[test]
    fn the_payload_is_a_geo_uri_with_label_and_summary_in_words() {
        let uri = prepare(
            "48.2010, 16.3695",
            &[
                ("precision", "10"),
                ("label", "Café Central"),
                ("accuracy", "25"),
                ("time", "1795000000000"),
            ],
        )
        .unwrap();
        assert!(uri.starts_with("geo:48.2010"), "{uri}");
        assert!(
            uri.contains(";u=25;label=Caf%C3%A9%20Central;t=1795000000000"),
            "{uri}"
        );
        Plugin::validate(uri.clone().into_bytes(), 1).unwrap();
        let summary = Plugin::summary(uri.into_bytes(), 1).unwrap();
        assert!(
            summary.starts_with("Location: Café Central (48.20"),
            "{summary}"
        );
        assert!(summary.ends_with("within 25 m"), "{summary}");
    }

    #[test]
    fn out_of_range_and_malformed_input_is_refused_with_a_reason() {
        for (input, opts, expected) in [
            ("91,0", vec![], "latitude"),
            ("0,180.5", vec![], "longitude"),
            ("NaN,0", vec![], "latitude"),
            ("48.2", vec![], "LAT,LON"),
            ("north,east", vec![], "not a number"),
            ("1,1", vec![("precision", "0")], "precision"),
            ("1,1", vec![("label", "pay \u{202E}3pm")], "invisible"),
            ("1,1", vec![("accuracy", "-4")], "accuracy"),
        ] {
            let error = prepare(input, &opts).unwrap_err();
            assert!(
                matches!(&error, PluginError::InvalidInput(m) if m.contains(expected)),
                "{input} {opts:?}: {error:?}"
            );
        }
        for payload in [
            "geo:91,0",
            "http://maps.example/?q=1,2",
            "geo:1,2;u=-3",
            "geo:1,2;crs=moon",
            "geo:1,2;label=%ZZ",
            "geo:",
        ] {
            assert!(
                Plugin::validate(payload.as_bytes().to_vec(), 1).is_err(),
                "{payload}"
            );
        }
        assert!(
            Plugin::validate(b"geo:1,2;foo=bar".to_vec(), 1).is_ok(),
            "unknown params are ignored"
        );
        assert!(matches!(
            Plugin::validate(b"geo:1,2".to_vec(), 2),
            Err(PluginError::UnsupportedVersion(2))
        ));
    }

    #[test]
    fn near_the_poles_and_the_date_line_it_stays_in_range() {
        for input in ["89.99999,179.99999", "-89.9999,-179.9999", "0,179.9999"] {
            let uri = prepare(input, &[("precision", "1000")]).unwrap();
            Plugin::validate(uri.clone().into_bytes(), 1)
                .unwrap_or_else(|e| panic!("{uri}: {e:?}"));
        }
    }
}
