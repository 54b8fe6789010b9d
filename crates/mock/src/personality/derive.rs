//! Deriving a personality profile from a child's canonical profile.
//!
//! Each facet starts at the age band's base score; each interest raises the facets it
//! points to with diminishing returns (a third interest about space adds less than the
//! first); a small jitter keeps equal children from looking machine-made. All draws
//! come from the generator passed in, seeded by the canonical profile, so the same
//! child always gets the same answer.

use gatebench_wire::personality::{PersonalityResponse, Trait};
use rand::{Rng, RngExt as _};

use super::bands::AgeBand;
use super::facets::{Facet, facets_of};
use super::validate::Child;

/// How many traits an answer lists.
pub const TRAITS_SHOWN: usize = 5;
/// How much of the distance to 1.0 a full-weight interest closes.
const INTEREST_PULL: f64 = 0.35;
/// Largest jitter added to a score, either way.
const JITTER: f64 = 0.04;

/// The profile for `child`.
pub fn derive<R: Rng + ?Sized>(child: &Child, rng: &mut R) -> PersonalityResponse {
    let band = AgeBand::of(child.age);
    let mut scores: Vec<(Facet, f64)> = Facet::ALL
        .iter()
        .map(|&f| (f, band.base_score(f)))
        .collect();
    for interest in &child.interests {
        let pulls = facets_of(interest).unwrap_or_else(|| {
            // An interest no keyword knows still says something about the child; which
            // facet it feeds is drawn, so it is the same for the same child.
            let facet = Facet::ALL[rng.random_range(0..Facet::ALL.len())];
            vec![(facet, 0.6), (Facet::Curiosity, 0.3)]
        });
        for (facet, weight) in pulls {
            if let Some((_, score)) = scores.iter_mut().find(|(f, _)| *f == facet) {
                *score += (1.0 - *score) * INTEREST_PULL * weight;
            }
        }
    }
    for (_, score) in &mut scores {
        let jitter = rng.random_range(-JITTER..=JITTER);
        *score = ((*score + jitter).clamp(0.05, 0.98) * 100.0).round() / 100.0;
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scores.truncate(TRAITS_SHOWN);

    let traits: Vec<Trait> = scores
        .iter()
        .map(|&(facet, score)| {
            let (name, description) = facet.words(band);
            Trait {
                name: name.to_owned(),
                score,
                description: description.to_owned(),
            }
        })
        .collect();
    let top = scores.first().map_or(Facet::Curiosity, |(f, _)| *f);
    PersonalityResponse {
        age_band: band.label().to_owned(),
        tone: band.tone(top).to_owned(),
        reading_level: AgeBand::reading_level(child.age),
        guidelines: guidelines(child, band, &traits),
        traits,
    }
}

fn guidelines(child: &Child, band: AgeBand, traits: &[Trait]) -> Vec<String> {
    let mut out: Vec<String> = band.guidelines().iter().map(|&g| g.to_owned()).collect();
    if let [first, second, ..] = traits {
        out.push(format!(
            "Let the hero show being {} and {} through what they do, not by naming the traits.",
            first.name, second.name
        ));
    }
    let whose = child
        .name
        .as_deref()
        .map_or_else(|| "the child's".to_owned(), |n| format!("{n}'s"));
    if !child.interests.is_empty() {
        out.push(format!(
            "Draw settings, characters or details from {whose} interests: {}.",
            child.interests.join(", ")
        ));
    }
    if let Some(name) = &child.name {
        out.push(match band {
            AgeBand::EarlyYears => {
                format!("Use {name}'s name often; young children love to hear it.")
            }
            _ => format!("Make {name} the hero, or a friend the hero meets."),
        });
    }
    if let Some(theme) = &child.story_theme {
        out.push(format!("Build the story around the theme \"{theme}\"."));
    }
    out
}
