//! Personality facets, the words each age band uses for them, and which interests
//! point to which facets.
//!
//! A facet is the underlying disposition (curiosity, kindness...); what it is called
//! and how it shows depends on age: a 4-year-old is "curious", an 11-year-old
//! "investigative". Keeping the facet separate from its words lets scores be computed
//! once and named per band.

use super::bands::AgeBand;

/// One underlying disposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Facet {
    /// Wants to know why and how.
    Curiosity,
    /// Seeks the new and the unknown.
    Adventure,
    /// Makes things up.
    Creativity,
    /// Cares for others.
    Kindness,
    /// Needs to move.
    Energy,
    /// Keeps trying.
    Persistence,
    /// Works things out.
    Logic,
    /// Loves a laugh.
    Humor,
    /// Takes time and care.
    Calm,
    /// Plays and works with others.
    Teamwork,
}

impl Facet {
    /// Every facet, in a fixed order.
    pub const ALL: [Facet; 10] = [
        Facet::Curiosity,
        Facet::Adventure,
        Facet::Creativity,
        Facet::Kindness,
        Facet::Energy,
        Facet::Persistence,
        Facet::Logic,
        Facet::Humor,
        Facet::Calm,
        Facet::Teamwork,
    ];

    /// The trait's name and what it looks like, in the words of `band`.
    pub fn words(self, band: AgeBand) -> (&'static str, &'static str) {
        use AgeBand::{EarlyYears as E, MiddleGrade as M, Primary as P};
        use Facet::*;
        match (self, band) {
            (Curiosity, E) => (
                "curious",
                "Loves asking \"why?\" and looking at new things up close.",
            ),
            (Curiosity, P) => (
                "inquisitive",
                "Asks lots of questions and wants to know how things work.",
            ),
            (Curiosity, M) => (
                "investigative",
                "Digs into how and why things work, and enjoys facts and mysteries.",
            ),
            (Adventure, E) => (
                "brave explorer",
                "Likes peeking around corners and trying new places with a grown-up close by.",
            ),
            (Adventure, P) => (
                "adventurous",
                "Enjoys exploring, quests and trying something new.",
            ),
            (Adventure, M) => (
                "daring",
                "Seeks challenges and new frontiers, and weighs the risks before leaping.",
            ),
            (Creativity, E) => (
                "imaginative",
                "Turns a box into a rocket and makes up pretend games.",
            ),
            (Creativity, P) => (
                "creative",
                "Makes up stories, pictures and inventions of their own.",
            ),
            (Creativity, M) => (
                "original",
                "Expresses ideas in a style of their own and likes to make new things.",
            ),
            (Kindness, E) => ("kind", "Shares, and gives a hug when a friend is sad."),
            (Kindness, P) => ("caring", "Notices how others feel and likes to help."),
            (Kindness, M) => (
                "empathetic",
                "Understands other points of view and stands up for others.",
            ),
            (Energy, E) => ("bouncy", "Full of energy: running, jumping and dancing."),
            (Energy, P) => ("energetic", "Loves to move, play games and be on the go."),
            (Energy, M) => (
                "athletic",
                "Enjoys physical challenges, practice and friendly competition.",
            ),
            (Persistence, E) => (
                "keeps trying",
                "Tries again and again until the tower stands.",
            ),
            (Persistence, P) => ("determined", "Keeps going when something is hard."),
            (Persistence, M) => (
                "resilient",
                "Bounces back from setbacks and sticks with long projects.",
            ),
            (Logic, E) => (
                "puzzle solver",
                "Enjoys matching, sorting and fitting pieces together.",
            ),
            (Logic, P) => ("problem solver", "Likes figuring things out step by step."),
            (Logic, M) => (
                "analytical",
                "Breaks problems into parts and enjoys patterns, logic and strategy.",
            ),
            (Humor, E) => ("giggly", "Loves silly sounds, funny faces and surprises."),
            (Humor, P) => ("funny", "Enjoys jokes and riddles and making others laugh."),
            (Humor, M) => ("witty", "Enjoys wordplay, clever jokes and a bit of irony."),
            (Calm, E) => (
                "gentle",
                "Enjoys quiet moments, cuddles and looking slowly at things.",
            ),
            (Calm, P) => (
                "patient",
                "Can wait, watch and look after things carefully.",
            ),
            (Calm, M) => (
                "thoughtful",
                "Reflects before acting and notices small details.",
            ),
            (Teamwork, E) => (
                "friendly",
                "Likes playing alongside others and making new friends.",
            ),
            (Teamwork, P) => (
                "team player",
                "Enjoys playing together, taking turns and sharing roles.",
            ),
            (Teamwork, M) => (
                "collaborative",
                "Works well in a group and helps a team succeed.",
            ),
        }
    }
}

/// Facets an interest points to, with weights in (0, 1].
type Pulls = &'static [(Facet, f64)];

/// Interest keywords and the facets they point to, with weights. A keyword matches a
/// word of the interest that equals it or its plural; a keyword ending in `*` matches
/// any word starting with it (`dino*` matches "dinosaurs").
const KEYWORDS: &[(&[&str], Pulls)] = {
    use Facet::*;
    &[
        (
            &["dino*", "fossil", "t-rex", "trex"],
            &[(Curiosity, 1.0), (Adventure, 0.8)],
        ),
        (
            &[
                "space",
                "planet",
                "star",
                "rocket",
                "astronaut*",
                "moon",
                "galax*",
                "astronom*",
            ],
            &[(Curiosity, 1.0), (Adventure, 0.7), (Creativity, 0.3)],
        ),
        (
            &[
                "scien*",
                "experiment*",
                "chemistry",
                "volcano",
                "weather",
                "invent*",
            ],
            &[(Curiosity, 1.0), (Logic, 0.7)],
        ),
        (
            &[
                "bug",
                "insect*",
                "nature",
                "plant*",
                "garden*",
                "flower",
                "tree",
                "bird*",
                "butterfl*",
            ],
            &[(Curiosity, 0.6), (Calm, 0.8)],
        ),
        (
            &[
                "animal", "pet", "dog", "puppy", "puppies", "cat", "kitten", "horse", "pony",
                "ponies", "bunny", "bunnies", "zoo", "farm*",
            ],
            &[(Kindness, 1.0), (Curiosity, 0.4)],
        ),
        (
            &[
                "ocean", "sea", "fish*", "shark", "whale", "dolphin", "beach", "mermaid*",
            ],
            &[(Curiosity, 0.8), (Adventure, 0.6)],
        ),
        (
            &[
                "pirate",
                "explor*",
                "treasure",
                "camping",
                "hiking",
                "adventure",
                "jungle",
                "map",
                "castle",
            ],
            &[(Adventure, 1.0), (Persistence, 0.3)],
        ),
        (
            &[
                "draw*", "art", "paint*", "craft*", "color*", "colour*", "sculpt*", "origami",
            ],
            &[(Creativity, 1.0), (Calm, 0.3)],
        ),
        (
            &[
                "music*", "sing*", "song", "piano", "guitar", "drum*", "danc*", "ballet", "violin",
            ],
            &[(Creativity, 0.8), (Energy, 0.5)],
        ),
        (
            &[
                "story", "stories", "book", "read*", "writ*", "poem", "poetry", "librar*",
            ],
            &[(Creativity, 0.7), (Calm, 0.5), (Curiosity, 0.4)],
        ),
        (
            &[
                "pretend",
                "dress-up",
                "princess*",
                "superhero*",
                "fair*",
                "dragon",
                "magic*",
                "unicorn",
                "knight",
                "wizard",
            ],
            &[(Creativity, 1.0), (Adventure, 0.5)],
        ),
        (
            &[
                "sport",
                "soccer",
                "football",
                "basketball",
                "baseball",
                "hockey",
                "tennis",
                "running",
                "swim*",
                "bike",
                "biking",
                "cycling",
                "climb*",
                "gymnast*",
                "skat*",
                "karate",
                "judo",
                "ski*",
            ],
            &[(Energy, 1.0), (Teamwork, 0.6), (Persistence, 0.4)],
        ),
        (
            &[
                "lego*",
                "block",
                "build*",
                "robot*",
                "cod*",
                "program*",
                "computer",
                "engineer*",
                "machine",
                "car",
                "train",
                "truck",
                "plane",
                "minecraft",
            ],
            &[(Logic, 0.9), (Creativity, 0.5), (Persistence, 0.5)],
        ),
        (
            &["puzzle", "math*", "number", "chess", "riddle", "maze"],
            &[(Logic, 1.0), (Persistence, 0.5)],
        ),
        (
            &["game", "video-game*", "videogame*"],
            &[(Logic, 0.6), (Persistence, 0.6), (Teamwork, 0.3)],
        ),
        (
            &[
                "joke", "funny", "silly", "comed*", "cartoon", "clown", "prank",
            ],
            &[(Humor, 1.0), (Teamwork, 0.3)],
        ),
        (
            &[
                "friend*", "team*", "family", "families", "sibling", "sister", "brother", "club",
            ],
            &[(Teamwork, 1.0), (Kindness, 0.5)],
        ),
        (
            &[
                "help*",
                "cook*",
                "bak*",
                "volunteer*",
                "baby",
                "babies",
                "doctor",
                "nurse",
                "vet",
            ],
            &[(Kindness, 0.7), (Calm, 0.6), (Creativity, 0.3)],
        ),
    ]
};

fn keyword_matches(keyword: &str, word: &str) -> bool {
    match keyword.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => {
            word == keyword
                || word
                    .strip_prefix(keyword)
                    .is_some_and(|rest| rest == "s" || rest == "es")
        }
    }
}

/// The facets an interest (lowercase) points to. `None` for an interest no keyword
/// matches.
pub fn facets_of(interest: &str) -> Option<Vec<(Facet, f64)>> {
    let words: Vec<&str> = interest
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut found: Vec<(Facet, f64)> = Vec::new();
    for (keywords, facets) in KEYWORDS {
        let hit = keywords
            .iter()
            .any(|k| words.iter().any(|w| keyword_matches(k, w)));
        if hit {
            for &(facet, weight) in *facets {
                match found.iter_mut().find(|(f, _)| *f == facet) {
                    Some((_, w)) => *w = w.max(weight),
                    None => found.push((facet, weight)),
                }
            }
        }
    }
    (!found.is_empty()).then_some(found)
}
