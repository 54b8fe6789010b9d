//! The English text completions are drawn from: `fixtures/corpus/*.txt`, compiled
//! into the binary so it answers the same from any directory.
//!
//! Each file is one topic: a `# keywords:` line, then one sentence per line with
//! blank lines between paragraphs. A prompt goes to the topic whose keywords it
//! mentions most.

use std::collections::HashSet;
use std::sync::OnceLock;

use rand::RngExt as _;

use gatebench_tokens::Encoding;

use crate::rng::MockRng;

const SOURCES: [(&str, &str); 3] = [
    (
        "stories",
        include_str!("../../../../fixtures/corpus/stories.txt"),
    ),
    (
        "sustainability",
        include_str!("../../../../fixtures/corpus/sustainability.txt"),
    ),
    (
        "support",
        include_str!("../../../../fixtures/corpus/support.txt"),
    ),
];

/// What a walk's text puts between paragraphs.
pub const PARAGRAPH_BREAK: &str = "\n\n";

/// All topics.
#[derive(Debug)]
pub struct Corpus {
    topics: Vec<Topic>,
}

/// One topic's sentences, in order.
#[derive(Debug)]
pub struct Topic {
    name: &'static str,
    keywords: HashSet<&'static str>,
    sentences: Vec<&'static str>,
    /// `paragraph_end[i]`: a paragraph ends after sentence `i`.
    paragraph_end: Vec<bool>,
    /// Token count of each sentence, per encoding, computed on first use.
    counts: [OnceLock<Vec<u32>>; 2],
    /// The tokens of each sentence as it stands in a walk's text, per encoding,
    /// computed on first use.
    pieces: [OnceLock<SentenceTokens>; 2],
}

/// The tokens of a topic's sentences as they stand in prose.
///
/// A walk writes its sentences joined by a space, or by a blank line where a
/// paragraph ends. The tokenizers' pre-tokenization never joins characters across
/// those joins: the space starts the next sentence's first word, and a paragraph
/// break ends with its sentence's last piece. So the text's tokens are the pieces'
/// tokens one after another, and counting an answer needs no tokenizer. A test
/// checks this against the tokenizer for every sentence of every topic.
#[derive(Debug)]
pub struct SentenceTokens {
    tokens: Vec<u32>,
    /// Per sentence: where its tokens start, where they start with the paragraph
    /// break after it, and where those end (the two are the same when no
    /// paragraph ends there).
    spans: Vec<[usize; 3]>,
}

impl SentenceTokens {
    /// The tokens of sentence `i`: with the space before it when it does not start
    /// a paragraph, and with the paragraph break after it if `with_break`.
    pub fn of(&self, i: usize, with_break: bool) -> &[u32] {
        let [start, broken, end] = self.spans[i];
        if with_break {
            &self.tokens[broken..end]
        } else {
            &self.tokens[start..broken]
        }
    }
}

/// One sentence of a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sentence {
    /// The sentence.
    pub text: &'static str,
    /// Its token count on its own.
    pub tokens: usize,
    /// A paragraph ends after it.
    pub paragraph_end: bool,
    /// Where it stands in its topic.
    pub index: usize,
}

/// The corpus compiled into the binary, parsed once.
pub fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| Corpus::parse(&SOURCES))
}

impl Corpus {
    /// Parses `(name, text)` sources. Files without sentences are skipped.
    pub fn parse(sources: &[(&'static str, &'static str)]) -> Corpus {
        let topics = sources
            .iter()
            .map(|(name, text)| Topic::parse(name, text))
            .filter(|t| !t.sentences.is_empty())
            .collect();
        Corpus { topics }
    }

    /// The topics, in source order.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// The topic `prompt` mentions most; a prompt that mentions none gets one drawn
    /// from `rng`. `None` only for an empty corpus.
    pub fn pick(&self, prompt: &str, rng: &mut MockRng) -> Option<&Topic> {
        let words: Vec<String> = words(prompt).collect();
        let scores: Vec<usize> = self
            .topics
            .iter()
            .map(|t| {
                words
                    .iter()
                    .filter(|w| t.keywords.contains(w.as_str()))
                    .count()
            })
            .collect();
        let best = scores.iter().copied().max()?;
        if best == 0 {
            let i = rng.random_range(0..self.topics.len());
            return self.topics.get(i);
        }
        self.topics
            .iter()
            .zip(&scores)
            .find(|(_, s)| **s == best)
            .map(|(t, _)| t)
    }
}

impl Topic {
    fn parse(name: &'static str, text: &'static str) -> Topic {
        let mut keywords = HashSet::new();
        let mut sentences = Vec::new();
        let mut paragraph_end: Vec<bool> = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(list) = comment.trim().strip_prefix("keywords:") {
                    keywords.extend(list.split_whitespace());
                }
            } else if line.is_empty() {
                if let Some(last) = paragraph_end.last_mut() {
                    *last = true;
                }
            } else {
                sentences.push(line);
                paragraph_end.push(false);
            }
        }
        // The walk wraps around, so the last sentence closes a paragraph.
        if let Some(last) = paragraph_end.last_mut() {
            *last = true;
        }
        Topic {
            name,
            keywords,
            sentences,
            paragraph_end,
            counts: Default::default(),
            pieces: Default::default(),
        }
    }

    /// Topic name (the file stem).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Number of sentences.
    pub fn len(&self) -> usize {
        self.sentences.len()
    }

    /// The topic has no sentences.
    pub fn is_empty(&self) -> bool {
        self.sentences.is_empty()
    }

    /// Sentences from `start` on, wrapping around without end: each sentence, its
    /// token count in `encoding` (on its own; the count of a joined text can differ
    /// slightly) and whether a paragraph ends after it. Consecutive sentences were
    /// written to follow each other, so the walk reads as connected prose.
    pub fn walk(&self, start: usize, encoding: Encoding) -> impl Iterator<Item = Sentence> + '_ {
        let n = self.sentences.len().max(1);
        let counts = self.counts(encoding);
        (0..).map(move |i| (start + i) % n).filter_map(move |i| {
            Some(Sentence {
                text: self.sentences.get(i)?,
                tokens: counts.get(i).copied().unwrap_or(0) as usize,
                paragraph_end: self.paragraph_end[i],
                index: i,
            })
        })
    }

    /// Token counts of the sentences, counted once per process and encoding
    /// (re-counting them for every answer would cost more than the answer).
    fn counts(&self, encoding: Encoding) -> &[u32] {
        let slot = match encoding {
            Encoding::O200kBase => &self.counts[0],
            Encoding::Cl100kBase => &self.counts[1],
        };
        slot.get_or_init(|| {
            self.sentences
                .iter()
                .map(|s| encoding.count(s) as u32)
                .collect()
        })
    }

    /// Whether sentence `i` starts a paragraph: the first of a walk's text, or one
    /// after a blank line; any other follows a space.
    pub fn starts_paragraph(&self, i: usize) -> bool {
        let n = self.sentences.len();
        n == 0 || self.paragraph_end[(i + n - 1) % n]
    }

    /// The sentences' tokens as they stand in a walk's text.
    pub fn tokens(&self, encoding: Encoding) -> &SentenceTokens {
        let slot = match encoding {
            Encoding::O200kBase => &self.pieces[0],
            Encoding::Cl100kBase => &self.pieces[1],
        };
        slot.get_or_init(|| {
            let mut tokens = Vec::new();
            let mut spans = Vec::with_capacity(self.sentences.len());
            let mut piece = String::new();
            for (i, sentence) in self.sentences.iter().enumerate() {
                piece.clear();
                if !self.starts_paragraph(i) {
                    piece.push(' ');
                }
                piece.push_str(sentence);
                let start = tokens.len();
                tokens.extend(encoding.encode(&piece));
                let broken = tokens.len();
                if self.paragraph_end[i] {
                    piece.push_str(PARAGRAPH_BREAK);
                    tokens.extend(encoding.encode(&piece));
                } else {
                    tokens.extend_from_within(start..broken);
                }
                spans.push([start, broken, tokens.len()]);
            }
            SentenceTokens { tokens, spans }
        })
    }

    /// A start position for a walk: the first sentence of a paragraph, so answers
    /// begin at the beginning of a thought.
    pub fn random_start(&self, rng: &mut MockRng) -> usize {
        if self.sentences.is_empty() {
            return 0;
        }
        let i = rng.random_range(0..self.sentences.len());
        // Back up to the start of the paragraph holding sentence `i`.
        (0..=i)
            .rev()
            .find(|&j| j == 0 || self.paragraph_end[j - 1])
            .unwrap_or(0)
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;

    #[test]
    fn every_topic_has_a_few_hundred_sentences_and_keywords() {
        let corpus = corpus();
        assert_eq!(corpus.topics().len(), 3);
        for topic in corpus.topics() {
            assert!(topic.len() >= 190, "{}: {}", topic.name(), topic.len());
            assert!(topic.keywords.len() >= 20, "{}", topic.name());
            assert!(topic.sentences.iter().all(|s| s.is_ascii()));
        }
    }

    #[test]
    fn prompts_go_to_the_topic_they_mention() {
        let mut rng = MockRng::seed_from_u64(1);
        let mut pick = |p: &str| corpus().pick(p, &mut rng).map(Topic::name);
        assert_eq!(
            pick("Tell me a bedtime story about a brave little dragon"),
            Some("stories")
        );
        assert_eq!(
            pick("How should we report scope 3 emissions under CSRD?"),
            Some("sustainability")
        );
        assert_eq!(
            pick("My order has not arrived, can I get a refund?"),
            Some("support")
        );
        assert!(pick("zzz qqq").is_some(), "no keyword still gets a topic");
    }

    /// The pieces' tokens, one after another, are the tokenizer's tokens of the
    /// text they make: every sentence of every topic, in both encodings, followed by
    /// the next one and ending the text.
    #[test]
    fn a_walk_s_tokens_are_its_pieces_tokens() {
        for topic in corpus().topics() {
            for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
                let pieces = topic.tokens(encoding);
                let piece = |i: usize, with_break: bool| {
                    let lead = if topic.starts_paragraph(i) { "" } else { " " };
                    let after = if with_break { PARAGRAPH_BREAK } else { "" };
                    format!("{lead}{}{after}", topic.sentences[i])
                };
                let n = topic.len();
                // Round the topic and on to its first sentence, which ends the text.
                let mut text = String::new();
                let mut tokens = Vec::new();
                for i in 0..n {
                    text.push_str(&piece(i, topic.paragraph_end[i]));
                    tokens.extend_from_slice(pieces.of(i, topic.paragraph_end[i]));
                }
                text.push_str(&piece(0, false));
                tokens.extend_from_slice(pieces.of(0, false));
                assert_eq!(encoding.encode(&text), tokens, "{}", topic.name());
                // Each sentence ending a text, after the one before it.
                for i in 0..n {
                    let before = (i + n - 1) % n;
                    let text = piece(before, topic.paragraph_end[before]) + &piece(i, false);
                    let mut tokens = pieces.of(before, topic.paragraph_end[before]).to_vec();
                    tokens.extend_from_slice(pieces.of(i, false));
                    assert_eq!(encoding.encode(&text), tokens, "{} {i}", topic.name());
                }
            }
        }
    }

    #[test]
    fn a_walk_starts_a_paragraph_and_wraps_around() {
        let topic = &corpus().topics()[0];
        let mut rng = MockRng::seed_from_u64(7);
        let start = topic.random_start(&mut rng);
        assert!(start == 0 || topic.paragraph_end[start - 1]);
        let walked: Vec<_> = topic
            .walk(topic.len() - 1, Encoding::O200kBase)
            .take(2)
            .collect();
        assert_eq!(walked[0].text, topic.sentences[topic.len() - 1]);
        assert!(
            walked[0].paragraph_end,
            "the last sentence ends a paragraph"
        );
        assert_eq!(walked[1].text, topic.sentences[0]);
        assert_eq!(
            walked[1].tokens,
            Encoding::O200kBase.count(topic.sentences[0])
        );
    }
}
