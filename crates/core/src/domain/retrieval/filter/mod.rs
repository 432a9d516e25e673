//! Metadata filters, applied inside retrieval: every hit satisfies every filter. Each filter
//! reads its own field: genres the genre and subgenre, tags the free-form tags, moods the
//! moods, instruments the instrumentation.
//!
//! Split by concept: the wire filter ([`wire`]), preferences ([`preferences`]), ranges
//! ([`range`]), instrument families ([`instruments`]), facet values and index keys
//! ([`facets`]) and the compiled filter ([`compiled`]).

mod compiled;
mod facets;
mod instruments;
mod preferences;
mod range;
mod wire;

pub use compiled::*;
pub use facets::*;
pub use instruments::*;
pub use preferences::*;
pub use range::*;
pub use wire::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::key::Mode;
    use crate::domain::catalog::track::Track;
    use crate::error::CoreError;

    fn track() -> Track {
        let mut t = Track {
            id: "a".into(),
            title: "t".into(),
            artist: "a".into(),
            year: Some(1984),
            ..Default::default()
        };
        t.metadata.genre = Some("Synth-Pop".into());
        t.metadata.mood = vec!["happy".into(), "Energetic".into()];
        t.metadata.instrumentation = vec!["synthesizer".into(), "female vocal".into()];
        t.metadata.tempo = Some(128.0);
        t.metadata.cultural_origin = Some("United Kingdom".into());
        t.metadata.key = Some("A minor".into());
        t
    }

    fn matches(f: Filter) -> bool {
        f.compile().matches(&TrackFacets::of(&track()))
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert!(matches(Filter::default()));
    }

    #[test]
    fn genre_is_normalised_and_word_contained() {
        assert!(matches(Filter {
            genres: vec!["synth pop".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            genres: vec!["POP".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            genres: vec!["po".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            genres: vec!["jazz".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn mood_filter_looks_at_every_mood() {
        assert!(matches(Filter {
            moods: vec!["energetic".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            moods: vec!["sad".into(), "happy".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            moods: vec!["sad".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn negation_excludes_the_instrument_family() {
        assert!(!matches(Filter {
            exclude_instruments: vec!["vocals".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            exclude_instruments: vec!["drums".into()],
            ..Default::default()
        }));
        // A track that lists no instruments is not known to be without drums.
        let mut unknown = track();
        unknown.metadata.instrumentation.clear();
        let without_drums = Filter {
            exclude_instruments: vec!["drums".into()],
            ..Default::default()
        };
        assert!(!without_drums.compile().matches(&TrackFacets::of(&unknown)));
    }

    #[test]
    fn ranges_need_a_value() {
        assert!(matches(Filter {
            tempo: Some(Range::new(Some(120.0), Some(130.0))),
            ..Default::default()
        }));
        assert!(!matches(Filter {
            tempo: Some(Range::new(None, Some(127.0))),
            ..Default::default()
        }));
        assert!(matches(Filter {
            year: Some(Range::new(Some(1980.0), Some(1989.0))),
            ..Default::default()
        }));
        let mut no_tempo = track();
        no_tempo.metadata.tempo = None;
        let f = Filter {
            tempo: Some(Range::new(Some(1.0), None)),
            ..Default::default()
        };
        assert!(!f.compile().matches(&TrackFacets::of(&no_tempo)));
    }

    #[test]
    fn live_key_origin() {
        assert!(matches(Filter {
            live: Some(false),
            ..Default::default()
        }));
        assert!(!matches(Filter {
            live: Some(true),
            ..Default::default()
        }));
        assert!(matches(Filter {
            keys: vec!["a minor".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            keys: vec!["a major".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            origins: vec!["united kingdom".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn and_intersects_lists_and_ranges() {
        let a = Filter {
            genres: vec!["pop".into(), "rock".into()],
            tempo: Some(Range::new(Some(100.0), None)),
            ..Default::default()
        };
        let b = Filter {
            genres: vec!["rock".into()],
            tempo: Some(Range::new(None, Some(140.0))),
            ..Default::default()
        };
        let c = a.and(&b);
        assert_eq!(c.genres, vec!["rock"]);
        assert_eq!(c.tempo, Some(Range::new(Some(100.0), Some(140.0))));
        let d = Filter {
            genres: vec!["jazz".into()],
            ..Default::default()
        }
        .and(&Filter {
            genres: vec!["pop".into()],
            ..Default::default()
        });
        assert!(!d.compile().matches(&TrackFacets::of(&track())));
    }

    #[test]
    fn split_fields_recombine_to_the_whole() {
        let f = Filter {
            genres: vec!["pop".into()],
            moods: vec!["happy".into()],
            tempo: Some(Range::new(Some(100.0), None)),
            ..Default::default()
        };
        let parts = f.split_fields();
        assert_eq!(parts.len(), 3);
        let whole = parts.iter().fold(Filter::default(), |acc, p| acc.and(p));
        assert_eq!(whole, f);
    }

    #[test]
    fn range_parsing() {
        assert_eq!(
            Range::parse("tempo", "90-120").unwrap(),
            Range::new(Some(90.0), Some(120.0))
        );
        assert_eq!(
            Range::parse("tempo", "90-").unwrap(),
            Range::new(Some(90.0), None)
        );
        assert_eq!(
            Range::parse("tempo", "-120").unwrap(),
            Range::new(None, Some(120.0))
        );
        assert!(Range::parse("tempo", "120-90").is_err());
        assert!(Range::parse("tempo", "fast").is_err());
    }

    #[test]
    fn a_preferred_genre_is_fitted_by_a_tag_a_genre_filter_is_not() {
        let mut t = track();
        t.metadata.genre = Some("dance".into());
        t.tags = vec!["hip hop feel".into()];
        let asked = Filter {
            genres: vec!["Hip-Hop".into()],
            moods: vec!["happy".into()],
            ..Default::default()
        };
        assert!(!asked.compile().matches(&TrackFacets::of(&t)));
        let preferred = Preferences::from(asked.clone());
        assert!(preferred.matching().compile().matches(&TrackFacets::of(&t)));
        // The other fields mean the same in both.
        t.metadata.mood.clear();
        assert!(!preferred.matching().compile().matches(&TrackFacets::of(&t)));
        // On the wire they are a filter's fields, as asked.
        assert_eq!(
            serde_json::to_value(&preferred).unwrap(),
            serde_json::to_value(&asked).unwrap()
        );
    }

    #[test]
    fn genre_reads_genre_and_subgenre_not_tags() {
        let mut t = track();
        t.metadata.genre = Some("dance".into());
        t.tags = vec!["hip hop feel".into()];
        let hip_hop = Filter {
            genres: vec!["Hip-Hop".into()],
            ..Default::default()
        };
        assert!(!hip_hop.compile().matches(&TrackFacets::of(&t)));
        let tag = Filter {
            tags: vec!["hip hop feel".into()],
            ..Default::default()
        };
        assert!(tag.compile().matches(&TrackFacets::of(&t)));
        t.metadata.subgenre = Some("hip hop".into());
        for spelling in ["Hip-Hop", "hip hop", "HIPHOP", "hip_hop"] {
            let f = Filter {
                genres: vec![spelling.into()],
                ..Default::default()
            };
            assert!(f.compile().matches(&TrackFacets::of(&t)), "{spelling}");
        }
        t.metadata.genre = Some("R&B".into());
        for spelling in ["r&b", "R and B", "r & b"] {
            let f = Filter {
                genres: vec![spelling.into()],
                ..Default::default()
            };
            assert!(f.compile().matches(&TrackFacets::of(&t)), "{spelling}");
        }
    }

    #[test]
    fn keys_modes_and_time_signatures() {
        let mut t = track();
        t.metadata.time_signature = Some("3/4".into());
        let facets = TrackFacets::of(&t);
        let f = |f: Filter| f.compile().matches(&facets);
        assert!(f(Filter {
            keys: vec!["Am".into()],
            ..Default::default()
        }));
        assert!(f(Filter {
            mode: Some(Mode::Minor),
            ..Default::default()
        }));
        assert!(!f(Filter {
            mode: Some(Mode::Major),
            ..Default::default()
        }));
        assert!(f(Filter {
            time_signatures: vec!["3/4".into()],
            ..Default::default()
        }));
        assert!(!f(Filter {
            time_signatures: vec!["6/8".into()],
            ..Default::default()
        }));
        let bad = Filter {
            keys: vec!["H major".into()],
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            CoreError::invalid("filters.keys", "x").to_string().replace(
                "x",
                "\"H major\" is not a key; write it like \"A minor\" or \"F# major\""
            )
        );
    }

    #[test]
    fn contradictions_match_nothing() {
        let f = Filter {
            mode: Some(Mode::Major),
            ..Default::default()
        }
        .and(&Filter {
            mode: Some(Mode::Minor),
            ..Default::default()
        });
        assert!(f.contradictory);
        assert!(!f.compile().matches(&TrackFacets::of(&track())));
        assert!(!f.compile().is_empty());
    }

    /// The set-overlap form of each clause (what the PostgreSQL store evaluates with its GIN
    /// index) decides every filter exactly as matching the values does.
    #[test]
    fn index_keys_decide_every_clause_as_matching_does() {
        use std::collections::HashSet;
        fn by_keys(c: &CompiledFilter, f: &TrackFacets) -> bool {
            let keys: HashSet<String> = f.index_keys().into_iter().collect();
            let holds = |ks: Vec<String>| ks.iter().any(|k| keys.contains(k));
            c.text_clauses().iter().all(|cl| {
                let any = holds(cl.index_keys());
                if cl.negated {
                    holds(cl.known_keys()) && !any
                } else {
                    any
                }
            }) && c.matches_numeric(f)
        }
        let mut tracks = vec![track(), Track::default()];
        let mut t = track();
        t.metadata.genre = Some("West Coast Hip-Hop".into());
        t.metadata.subgenre = Some("R&B".into());
        t.tags = vec!["hiphop feel".into(), "late night".into()];
        t.metadata.instrumentation = vec!["drum kit".into(), "bass".into()];
        t.metadata.key = Some("E-flat minor".into());
        t.metadata.time_signature = Some("3/4".into());
        tracks.push(t);
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let filters = [
            Filter::default(),
            Filter {
                genres: list(&["hip hop"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["HipHop"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["coast hip"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["po", "jazz"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["synth pop", "r and b"]),
                ..Default::default()
            },
            Filter {
                genres_or_tags: list(&["hip hop"]),
                ..Default::default()
            },
            Filter {
                tags: list(&["night"]),
                ..Default::default()
            },
            Filter {
                moods: list(&["energetic"]),
                ..Default::default()
            },
            Filter {
                instruments: list(&["drum"]),
                ..Default::default()
            },
            Filter {
                exclude_instruments: list(&["vocals"]),
                ..Default::default()
            },
            Filter {
                exclude_instruments: list(&["drums"]),
                ..Default::default()
            },
            Filter {
                origins: list(&["kingdom"]),
                ..Default::default()
            },
            Filter {
                keys: list(&["D# minor"]),
                ..Default::default()
            },
            Filter {
                keys: list(&["A minor"]),
                mode: Some(Mode::Minor),
                ..Default::default()
            },
            Filter {
                mode: Some(Mode::Major),
                ..Default::default()
            },
            Filter {
                time_signatures: list(&["3/4"]),
                ..Default::default()
            },
            Filter {
                tempo: Some(Range::new(Some(100.0), None)),
                ..Default::default()
            },
            Filter {
                genres: list(&["pop"]),
                contradictory: true,
                ..Default::default()
            },
        ];
        let mut passed = 0;
        for f in &filters {
            let c = f.compile();
            for t in &tracks {
                let facets = TrackFacets::of(t);
                let expected = c.matches(&facets);
                assert_eq!(by_keys(&c, &facets), expected, "{f:?} on {:?}", t.metadata);
                passed += usize::from(expected);
            }
        }
        // Both outcomes occur, so the comparison is not vacuous.
        assert!(passed > filters.len() && passed < filters.len() * tracks.len());
    }
}
