//! Dependency graphs of the judged image, read from VERIFIED data only: the newest verified
//! scan's own report (Trivy JSON: `Results[].Packages[]` with `Identifier.PURL`,
//! `Relationship` and `DependsOn`) and the verified SBOM attestations of the image (CycloneDX
//! `metadata.component`, `components` and `dependencies`; SPDX `packages` and `relationships`
//! `DESCRIBES` / `DEPENDS_ON` / `CONTAINS` and their inverses). They tie a VEX statement whose
//! product is an application package (`pkg:golang/…/app`) to this image: see [`super::vex`].
//!
//! Every graph has one node for the image itself (the scan's artifact, the SBOM's document),
//! without a purl: the image is matched by the statement rules of [`super::vex`], never by a
//! purl read here. Every other node has the image above it, through its dependents or
//! directly; a node nothing depends on hangs directly under the graph's root component
//! (CycloneDX `metadata.component`, the one SPDX package the document describes) or, without
//! one, under the image. Read fail-closed: an edge that cannot be read is no edge, and a
//! package whose dependents are unknown is taken to be reachable from the image directly —
//! it can only make fewer findings suppressed.
//!
//! SBOMs are read with narrow structures, never as a whole JSON tree.

use std::collections::HashMap;
use std::str::FromStr;

use serde_json::Value;

use super::sbom::doc::{CdxComponent, SbomDoc};

/// The image node of every graph.
const IMAGE: usize = 0;

#[derive(Debug, Clone)]
struct Node {
    purl: Option<String>,
    parents: Vec<usize>,
}

/// One verified dependency graph of the image.
#[derive(Debug, Clone)]
pub(crate) struct DepGraph {
    /// Where it was read, for messages (`the scan's Trivy report`, `cyclonedx attestation …`).
    pub source: String,
    nodes: Vec<Node>,
}

/// Whether two purls name the same package version: type, namespace and name (ASCII case
/// ignored) and version equal; qualifiers and subpath are not compared, so that a package
/// is found wherever it occurs (more occurrences can only mean fewer suppressions). Strings
/// that are not purls are compared exactly.
fn same_package(a: &str, b: &str) -> bool {
    let (Ok(x), Ok(y)) = (
        packageurl::PackageUrl::from_str(a),
        packageurl::PackageUrl::from_str(b),
    ) else {
        return a == b;
    };
    let ns = |p: &packageurl::PackageUrl<'_>| {
        p.namespace()
            .filter(|n| !n.is_empty())
            .map(str::to_ascii_lowercase)
    };
    x.ty().eq_ignore_ascii_case(y.ty())
        && ns(&x) == ns(&y)
        && x.name().eq_ignore_ascii_case(y.name())
        && x.version() == y.version()
}

impl DepGraph {
    fn new(source: String) -> Self {
        DepGraph {
            source,
            nodes: vec![Node {
                purl: None,
                parents: Vec::new(),
            }],
        }
    }

    fn add(&mut self, purl: Option<String>) -> usize {
        self.nodes.push(Node {
            purl: purl.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()),
            parents: Vec::new(),
        });
        self.nodes.len() - 1
    }

    fn edge(&mut self, parent: usize, child: usize) {
        if parent != child
            && let Some(n) = self.nodes.get_mut(child)
            && !n.parents.contains(&parent)
        {
            n.parents.push(parent);
        }
    }

    /// Hangs every node but the image that has no parent under `root`; then every node the
    /// image still does not reach (a cycle of dependents, `bash` ↔ `base-files`, attached to
    /// nothing) directly under the image: a graph that does not say how a package came into
    /// the image ties it to no application (Trivy's `reachRoot` fails safe the same way).
    fn attach_orphans(&mut self, root: usize) {
        for i in 1..self.nodes.len() {
            if self.nodes[i].parents.is_empty() {
                let to = if i == root { IMAGE } else { root };
                self.nodes[i].parents.push(to);
            }
        }
        let mut children = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &p in &n.parents {
                children[p].push(i);
            }
        }
        let mut reached = vec![false; self.nodes.len()];
        let mut todo = vec![IMAGE];
        while let Some(i) = todo.pop() {
            if !std::mem::replace(&mut reached[i], true) {
                todo.extend(children[i].iter().copied());
            }
        }
        for (i, r) in reached.iter().enumerate() {
            if !r {
                self.nodes[i].parents.push(IMAGE);
            }
        }
    }

    /// How many packages (nodes with a purl) it has.
    pub(crate) fn packages(&self) -> usize {
        self.nodes.iter().filter(|n| n.purl.is_some()).count()
    }

    /// The nodes that are the package `purl`.
    fn occurrences<'a>(&'a self, purl: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.purl.as_deref().is_some_and(|p| same_package(p, purl)))
            .map(|(i, _)| i)
    }

    /// Whether the package `purl` is in this graph.
    pub(crate) fn contains(&self, purl: &str) -> bool {
        self.occurrences(purl).next().is_some()
    }

    /// Walks up from every occurrence of `purl` (the occurrence itself not tested), not
    /// going past nodes for which `stop` holds. Returns (reached the image, met a stop).
    fn walk(&self, purl: &str, stop: &dyn Fn(&str) -> bool) -> (bool, bool) {
        let mut seen = vec![false; self.nodes.len()];
        let mut todo: Vec<usize> = Vec::new();
        for o in self.occurrences(purl) {
            todo.extend(self.nodes[o].parents.iter().copied());
        }
        let (mut reached, mut met) = (false, false);
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if i == IMAGE {
                reached = true;
                continue;
            }
            if self.nodes[i].purl.as_deref().is_some_and(stop) {
                met = true;
                continue;
            }
            todo.extend(self.nodes[i].parents.iter().copied());
        }
        (reached, met)
    }

    /// `None` when the package `purl` is not in this graph; else whether EVERY path from it up
    /// to the image passes a dependent (not the package itself) for which `product` holds.
    pub(crate) fn covered_by(&self, purl: &str, product: &dyn Fn(&str) -> bool) -> Option<bool> {
        if !self.contains(purl) {
            return None;
        }
        let (reached, met) = self.walk(purl, product);
        Some(met && !reached)
    }

    /// Whether SOME dependent of the package `purl` (direct or not) is one for which
    /// `product` holds.
    pub(crate) fn has_dependent(&self, purl: &str, product: &dyn Fn(&str) -> bool) -> bool {
        self.walk(purl, product).1
    }

    /// The graph of a Trivy JSON report (`SchemaVersion`, `Results`), when it lists packages.
    /// Within one result, `DependsOn` names package `ID`s; a package whose `Relationship` is
    /// not `direct` or `indirect` (`root`, `workspace`, unknown, none), and one nothing
    /// depends on, hangs under the image (Trivy's artifact).
    pub(crate) fn from_trivy(source: &str, report: &Value) -> Option<DepGraph> {
        report.get("SchemaVersion")?;
        let mut g = DepGraph::new(source.to_owned());
        for result in report
            .get("Results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let packages: Vec<&Value> = result
                .get("Packages")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let mut by_id: HashMap<&str, usize> = HashMap::new();
            let mut idx = Vec::with_capacity(packages.len());
            for p in &packages {
                let purl = p
                    .pointer("/Identifier/PURL")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let i = g.add(purl);
                if let Some(id) = p.get("ID").and_then(Value::as_str) {
                    by_id.insert(id, i);
                }
                idx.push(i);
            }
            for (p, &i) in packages.iter().zip(&idx) {
                for dep in p
                    .get("DependsOn")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some(&c) = by_id.get(dep) {
                        g.edge(i, c);
                    }
                }
            }
            for (p, &i) in packages.iter().zip(&idx) {
                let rel = p.get("Relationship").and_then(Value::as_str);
                if !matches!(rel, Some("direct" | "indirect")) {
                    g.edge(IMAGE, i);
                }
            }
        }
        g.attach_orphans(IMAGE);
        (g.nodes.len() > 1).then_some(g)
    }

    /// The graph of an SBOM (CycloneDX or SPDX 2.x JSON); `None` when it is neither or cannot
    /// be read.
    pub(crate) fn from_sbom(source: &str, bytes: &[u8]) -> Option<DepGraph> {
        let doc: SbomDoc = serde_json::from_slice(bytes).ok()?;
        if doc.bom_format.as_deref() == Some("CycloneDX") {
            return Some(cyclonedx(source, doc));
        }
        if doc.spdx_version.as_deref()?.starts_with("SPDX-2") {
            return Some(spdx(source, doc));
        }
        None
    }
}

fn cdx_add<'a>(
    g: &mut DepGraph,
    c: &'a CdxComponent,
    parent: Option<usize>,
    refs: &mut HashMap<&'a str, usize>,
) -> usize {
    let i = g.add(c.purl.clone());
    if let Some(r) = c.bom_ref.as_deref() {
        refs.insert(r, i);
    }
    if let Some(p) = parent {
        g.edge(p, i);
    }
    for child in c.components.iter().flatten() {
        cdx_add(g, child, Some(i), refs);
    }
    i
}

fn cyclonedx(source: &str, doc: SbomDoc) -> DepGraph {
    let mut g = DepGraph::new(source.to_owned());
    let mut refs = HashMap::new();
    let root = doc
        .metadata
        .as_ref()
        .and_then(|m| m.component.as_ref())
        .map(|c| cdx_add(&mut g, c, Some(IMAGE), &mut refs));
    for c in doc.components.iter().flatten() {
        cdx_add(&mut g, c, None, &mut refs);
    }
    for (r, depends_on) in doc.dependencies() {
        let Some(&p) = r.and_then(|r| refs.get(r)) else {
            continue;
        };
        for on in depends_on {
            if let Some(&c) = refs.get(on) {
                g.edge(p, c);
            }
        }
    }
    g.attach_orphans(root.unwrap_or(IMAGE));
    g
}

fn spdx(source: &str, doc: SbomDoc) -> DepGraph {
    let mut g = DepGraph::new(source.to_owned());
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for p in doc.packages.iter().flatten() {
        let purl = p.external_refs.iter().flatten().find_map(|r| {
            (r.reference_type.as_deref() == Some("purl"))
                .then(|| r.reference_locator.clone())
                .flatten()
        });
        let i = g.add(purl);
        if let Some(id) = p.spdxid.as_deref() {
            ids.insert(id, i);
        }
    }
    let document = doc.spdxid.as_deref().unwrap_or("SPDXRef-DOCUMENT");
    let mut described: Vec<usize> = doc
        .document_describes()
        .filter_map(|d| ids.get(d).copied())
        .collect();
    for r in doc.relationships() {
        let (Some(a), Some(t), Some(b)) = r else {
            continue;
        };
        match t {
            "DESCRIBES" if a == document => described.extend(ids.get(b)),
            "DESCRIBED_BY" if b == document => described.extend(ids.get(a)),
            "DEPENDS_ON" | "CONTAINS" => {
                if let (Some(&p), Some(&c)) = (ids.get(a), ids.get(b)) {
                    g.edge(p, c);
                }
            }
            "DEPENDENCY_OF" | "CONTAINED_BY" => {
                if let (Some(&c), Some(&p)) = (ids.get(a), ids.get(b)) {
                    g.edge(p, c);
                }
            }
            _ => {}
        }
    }
    described.sort_unstable();
    described.dedup();
    for &d in &described {
        g.edge(IMAGE, d);
    }
    let root = match described.as_slice() {
        [one] => *one,
        _ => IMAGE,
    };
    g.attach_orphans(root);
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(id: &str, rel: Option<&str>, depends_on: &[&str]) -> Value {
        let mut p = json!({"ID": id, "Identifier": {"PURL": format!("pkg:deb/debian/{id}")},
            "DependsOn": depends_on});
        if let Some(r) = rel {
            p["Relationship"] = r.into();
        }
        p
    }

    fn report(packages: Vec<Value>) -> DepGraph {
        let r =
            json!({"SchemaVersion": 2, "Results": [{"Target": "debian", "Packages": packages}]});
        DepGraph::from_trivy("t", &r).unwrap()
    }

    #[test]
    fn cycles_end_and_a_cycle_attached_to_nothing_hangs_under_the_image() {
        // Trivy's pkg/vex test "infinity loop": bash and base-files depend on each other.
        let g = report(vec![
            package("bash@5.3", None, &["base-files@5.3"]),
            package("base-files@5.3", None, &["bash@5.3"]),
        ]);
        let base_files = |p: &str| p.contains("/base-files");
        // Without a way in from the image, the cycle hangs directly under it: base-files is
        // not the only way to bash.
        assert_eq!(
            g.covered_by("pkg:deb/debian/bash@5.3", &base_files),
            Some(false)
        );
        // With `direct` relationships (not attached to the image by their relationship) too.
        let g = report(vec![
            package("bash@5.3", Some("direct"), &["base-files@5.3"]),
            package("base-files@5.3", Some("direct"), &["bash@5.3"]),
        ]);
        assert_eq!(
            g.covered_by("pkg:deb/debian/bash@5.3", &base_files),
            Some(false)
        );
        // The cycle under an app: the app covers both.
        let g = report(vec![
            package("app@1", Some("root"), &["base-files@5.3"]),
            package("bash@5.3", Some("indirect"), &["base-files@5.3"]),
            package("base-files@5.3", Some("direct"), &["bash@5.3"]),
        ]);
        let app = |p: &str| p.contains("/app@");
        assert_eq!(g.covered_by("pkg:deb/debian/bash@5.3", &app), Some(true));
        assert_eq!(
            g.covered_by("pkg:deb/debian/bash@5.3", &base_files),
            Some(true)
        );
        assert_eq!(g.covered_by("pkg:deb/debian/zsh@5.3", &app), None);
        // Unknown ids in DependsOn and packages without a purl are no edges, no packages.
        let g = report(vec![
            package("app@1", Some("root"), &["nothing@0"]),
            json!({"ID": "nameless", "Relationship": "direct"}),
        ]);
        assert_eq!(g.packages(), 1);
    }

    #[test]
    fn unknown_relationship_hangs_under_the_image_too() {
        // A package depended on by the app, but whose relationship Trivy did not know: it
        // may also be in the image on its own (fail-closed).
        let g = report(vec![
            package("app@1", Some("root"), &["lib@1"]),
            package("lib@1", None, &[]),
        ]);
        let app = |p: &str| p.contains("/app@");
        assert_eq!(g.covered_by("pkg:deb/debian/lib@1", &app), Some(false));
        assert!(g.has_dependent("pkg:deb/debian/lib@1", &app));
    }
}
