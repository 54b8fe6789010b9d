//! Tests of the personality service: bands, vocabularies, interests, determinism and
//! validation.

use std::collections::HashSet;

use gatebench_wire::personality::{PersonalityRequest, PersonalityResponse};
use proptest::prelude::*;

use super::*;
use crate::config::ServiceProfile;

fn core(seed: u64) -> Arc<MockCore> {
    MockCore::new(
        "personality",
        ErrorStyle::Detail,
        KeyHeader::Bearer,
        ServiceProfile::default().settings(),
        seed,
        0.0,
    )
}

fn request(age: i64, interests: &[&str]) -> PersonalityRequest {
    PersonalityRequest {
        age,
        interests: interests.iter().map(|s| (*s).to_owned()).collect(),
        name: None,
        story_theme: None,
    }
}

fn answer(age: i64, interests: &[&str]) -> PersonalityResponse {
    personality(&core(7), &request(age, interests)).unwrap()
}

fn trait_names(answer: &PersonalityResponse) -> Vec<&str> {
    answer.traits.iter().map(|t| t.name.as_str()).collect()
}

#[test]
fn ages_fall_into_three_bands() {
    let bands: Vec<String> = (3..=12).map(|age| answer(age, &[]).age_band).collect();
    assert_eq!(
        bands,
        [
            "3-5", "3-5", "3-5", "6-8", "6-8", "6-8", "9-12", "9-12", "9-12", "9-12"
        ]
    );
}

#[test]
fn each_band_has_its_own_vocabulary() {
    let words = |age| -> HashSet<String> {
        let a = answer(
            age,
            &["dinosaurs", "space", "drawing", "soccer", "lego", "jokes"],
        );
        a.traits
            .iter()
            .map(|t| t.name.clone())
            .chain([a.tone, a.reading_level.grade, a.reading_level.lexile])
            .chain(a.guidelines.into_iter().take(6))
            .collect()
    };
    let (young, middle, old) = (words(4), words(7), words(11));
    assert!(
        young.is_disjoint(&middle),
        "{:?}",
        young.intersection(&middle)
    );
    assert!(middle.is_disjoint(&old), "{:?}", middle.intersection(&old));
    assert!(young.is_disjoint(&old));
}

#[test]
fn reading_levels_rise_with_age() {
    let levels: Vec<(String, u32)> = (3..=12)
        .map(|age| {
            let r = answer(age, &[]).reading_level;
            (r.grade, r.words_per_sentence)
        })
        .collect();
    assert_eq!(levels[0].0, "Pre-K");
    assert_eq!(levels[3].0, "Grade 1");
    assert_eq!(levels[9].0, "Grade 7");
    assert!(levels.windows(2).all(|w| w[0].1 <= w[1].1));
    assert_eq!(answer(8, &[]).reading_level.lexile, "520L-820L");
}

#[test]
fn dinosaurs_and_space_make_a_curious_adventurer() {
    let young = answer(4, &["Dinosaurs", "space"]);
    assert_eq!(trait_names(&young)[..2], ["curious", "brave explorer"]);
    let old = answer(10, &["dinosaurs", "outer space"]);
    assert_eq!(trait_names(&old)[..2], ["investigative", "daring"]);
    assert_eq!(old.tone, "adventurous, with real stakes and moments of awe");
}

#[test]
fn interests_shape_the_traits() {
    let builder = answer(7, &["lego", "robots", "puzzles"]);
    assert_eq!(trait_names(&builder)[0], "problem solver");
    let artist = answer(7, &["drawing", "painting", "music"]);
    assert_eq!(trait_names(&artist)[0], "creative");
    let carer = answer(5, &["puppies", "helping grandma", "friends"]);
    assert!(
        trait_names(&carer)[..2].contains(&"kind"),
        "{:?}",
        trait_names(&carer)
    );
}

#[test]
fn answers_are_well_formed() {
    for age in 3..=12 {
        let a = answer(age, &["trains", "baking", "quidditch"]);
        assert_eq!(a.traits.len(), TRAITS_SHOWN);
        assert!(a.traits.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(a.traits.iter().all(|t| (0.05..=0.98).contains(&t.score)));
        let cents = |s: f64| s * 100.0;
        assert!(
            a.traits
                .iter()
                .all(|t| (cents(t.score).round() - cents(t.score)).abs() < 1e-9)
        );
        let names: HashSet<&str> = trait_names(&a).into_iter().collect();
        assert_eq!(names.len(), TRAITS_SHOWN, "no trait twice");
        assert!(a.guidelines.len() >= 6);
    }
}

#[test]
fn name_and_theme_reach_the_guidelines() {
    let mut r = request(6, &["cats"]);
    r.name = Some("  Mia ".into());
    r.story_theme = Some("a lost star".into());
    let a = personality(&core(1), &r).unwrap();
    let all = a.guidelines.join("\n");
    assert!(all.contains("Make Mia the hero"), "{all}");
    assert!(all.contains("Mia's interests: cats."), "{all}");
    assert!(all.contains("theme \"a lost star\""), "{all}");
}

#[test]
fn the_same_child_gets_the_same_answer() {
    let a = personality(&core(3), &request(8, &["Space", "dinosaurs", "knitting"])).unwrap();
    let b = personality(
        &core(3),
        &request(8, &[" dinosaurs ", "knitting", "space", "SPACE"]),
    )
    .unwrap();
    assert_eq!(a, b, "order, case, spaces and duplicates do not matter");
    let other_seed = personality(&core(4), &request(8, &["space", "dinosaurs", "knitting"]));
    assert_eq!(a.age_band, other_seed.unwrap().age_band);
}

#[test]
fn bad_requests_list_every_problem() {
    let mut r = request(13, &["ok", " ", &"x".repeat(51)]);
    r.name = Some(String::new());
    let errors = personality(&core(1), &r).unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "age must be between 3 and 12 (got 13)",
            "interests[1] must not be empty",
            "interests[2] must be at most 50 characters (got 51)",
            "name must not be empty",
        ]
    );
    assert_eq!(
        errors[1].loc(),
        [serde_json::json!("body"), "interests".into(), 1.into()]
    );
    let too_many: Vec<String> = (0..11).map(|i| format!("thing {i}")).collect();
    let r = PersonalityRequest {
        interests: too_many,
        ..request(5, &[])
    };
    let errors = personality(&core(1), &r).unwrap_err();
    assert_eq!(errors, [PersonalityError::TooManyInterests(11)]);
    assert!(personality(&core(1), &request(2, &[])).is_err());
}

proptest! {
    #[test]
    fn any_valid_child_gets_a_well_formed_deterministic_answer(
        age in 3i64..=12,
        interests in proptest::collection::vec("[a-zA-Z ]{1,20}[a-z]", 0..=10),
        seed in any::<u64>(),
    ) {
        let interests: Vec<&str> = interests.iter().map(String::as_str).collect();
        let r = request(age, &interests);
        let a = personality(&core(seed), &r).unwrap();
        prop_assert_eq!(&a, &personality(&core(seed), &r).unwrap());
        prop_assert_eq!(a.traits.len(), TRAITS_SHOWN);
        prop_assert!(a.traits.iter().all(|t| (0.05..=0.98).contains(&t.score)));
    }
}

/// A capacity slope too steep for a `Duration` stretches the wait to the longest
/// delay: the request past the soft limit is answered, not dropped by a panicking
/// handler.
#[tokio::test]
async fn a_steep_capacity_slope_slows_a_request_without_panicking_it() {
    use tower::ServiceExt as _;

    let (profile, core) = crate::config::steep_service("personality");
    let app = app(Arc::clone(&core), &profile, &Control::default());
    let _in_flight = core.enter(CAPACITY_KEY).unwrap();
    let request = http::Request::post(ROUTE)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            r#"{"age": 7, "interests": ["dinosaurs", "space"]}"#,
        ))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
}
