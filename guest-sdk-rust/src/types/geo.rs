//! The geo types: a [`Point`] `[x, y]`, and arrays of points nested one to three levels.

use serde::{Deserialize, Serialize};

/// `Point`: `[x, y]` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point(pub f64, pub f64);

macro_rules! shape {
    ($(#[$doc:meta])* $name:ident($item:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Vec<$item>);
    };
}

shape!(
    /// `Ring`: a polygon without holes, its points in order.
    Ring(Point)
);
shape!(
    /// `LineString`: a line through its points.
    LineString(Point)
);
shape!(
    /// `MultiLineString`: several lines.
    MultiLineString(LineString)
);
shape!(
    /// `Polygon`: the outer ring, then the holes.
    Polygon(Ring)
);
shape!(
    /// `MultiPolygon`: several polygons.
    MultiPolygon(Polygon)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_nested_arrays_of_points() {
        let polygon = Polygon(vec![Ring(vec![Point(0.0, 0.0), Point(1.0, 0.5)])]);
        let text = serde_json::to_string(&polygon).unwrap();
        assert_eq!(text, "[[[0.0,0.0],[1.0,0.5]]]");
        assert_eq!(serde_json::from_str::<Polygon>(&text).unwrap(), polygon);
        assert!(serde_json::from_str::<Point>("[1, 2, 3]").is_err());
    }
}
