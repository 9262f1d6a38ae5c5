//! Cannistraci-Hebb scores against literal brute-force evaluations of their definitions (docs/methods.md) on
//! small random bipartite graphs, and chain removal.

use std::collections::HashSet;

use proptest::prelude::*;
use sparse_rl_dst::grow::cannistraci_hebb::{ch2_l3n, ch3_l3n, ch3_l3p, chain_removal};
use sparse_rl_dst::{LayerShape, LayerTopology};

fn layer(rows: usize, cols: usize, mask: Vec<bool>) -> LayerTopology {
    let mut t = LayerTopology::from_dense("l", LayerShape::dense(rows, cols), vec![1.0; rows * cols]);
    t.mask = mask;
    t.zero_inactive();
    t
}

/// A node of the bipartite graph: an output (row) or an input (column).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Node {
    Row(usize),
    Col(usize),
}

fn neighbours(t: &LayerTopology, n: Node) -> HashSet<Node> {
    let c = t.cols();
    match n {
        Node::Row(u) => (0..c).filter(|&v| t.mask[u * c + v]).map(Node::Col).collect(),
        Node::Col(v) => (0..t.rows())
            .filter(|&u| t.mask[u * c + v])
            .map(Node::Row)
            .collect(),
    }
}

/// CH3-L3 by enumerating the paths u–z1–z2–v and the local community literally.
fn brute_ch3_l3p(t: &LayerTopology, u: usize, v: usize) -> f64 {
    let (nu, nv) = (Node::Row(u), Node::Col(v));
    let mut paths = Vec::new();
    for z1 in neighbours(t, nu) {
        for z2 in neighbours(t, z1) {
            if z2 != nu && neighbours(t, z2).contains(&nv) {
                paths.push((z1, z2));
            }
        }
    }
    let lc: HashSet<Node> = paths.iter().flat_map(|&(a, b)| [a, b]).collect();
    let ends: HashSet<Node> = [nu, nv].into_iter().collect();
    let d_e = |z: Node| {
        let nb = neighbours(t, z);
        (nb.len() - nb.intersection(&lc).count() - nb.intersection(&ends).count()) as f64
    };
    paths
        .iter()
        .map(|&(z1, z2)| 1.0 / ((1.0 + d_e(z1)) * (1.0 + d_e(z2))).sqrt())
        .sum()
}

/// The node-based form from its definition: over community nodes z2 (rows sharing a neighbour with u,
/// linked to v) and z1 (columns linked to u, sharing a neighbour with v), each weighted by
/// numerator(common) / (1 + max(deg − common − 1, 0)).
fn brute_node(t: &LayerTopology, u: usize, v: usize, numerator: fn(usize) -> f64) -> f64 {
    let (nu, nv) = (Node::Row(u), Node::Col(v));
    let term = |z: Node, other: Node| {
        let nz = neighbours(t, z);
        let common = nz.intersection(&neighbours(t, other)).count();
        if common == 0 {
            return 0.0;
        }
        let e = (nz.len() as i64 - common as i64 - 1).max(0);
        numerator(common) / (1.0 + e as f64)
    };
    let rows: f64 = neighbours(t, nv).into_iter().map(|z2| term(z2, nu)).sum();
    let cols: f64 = neighbours(t, nu).into_iter().map(|z1| term(z1, nv)).sum();
    rows + cols
}

fn graph() -> impl Strategy<Value = LayerTopology> {
    (2usize..9, 2usize..9).prop_flat_map(|(r, c)| {
        prop::collection::vec(prop::bool::weighted(0.4), r * c).prop_map(move |m| layer(r, c, m))
    })
}

fn check(t: &LayerTopology, got: &[f32], want: impl Fn(usize, usize) -> f64) {
    for u in 0..t.rows() {
        for v in 0..t.cols() {
            let i = u * t.cols() + v;
            let w = if t.mask[i] { 0.0 } else { want(u, v) };
            assert!(
                (f64::from(got[i]) - w).abs() <= 1e-5 * w.max(1.0),
                "({u}, {v}): {} vs {w}",
                got[i]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ch3_l3p_equals_path_enumeration(t in graph()) {
        check(&t, &ch3_l3p(&t), |u, v| brute_ch3_l3p(&t, u, v));
    }

    #[test]
    fn ch3_l3n_equals_its_definition(t in graph()) {
        check(&t, &ch3_l3n(&t), |u, v| brute_node(&t, u, v, |_| 1.0));
    }

    #[test]
    fn ch2_l3n_equals_its_definition(t in graph()) {
        check(&t, &ch2_l3n(&t), |u, v| brute_node(&t, u, v, |c| 1.0 + c as f64));
    }
}

#[test]
fn path_and_node_forms_differ() {
    // Row 0 (u) links column 0; row 1 links columns 0, 2 (v) and 3. One path u–c0–r1–v:
    // path form 1/√((2 − 1)(3 − 1)) = 1/√2; node form r1: 1/(1 + 1) plus c0: 1/(1 + 0) = 1.5.
    let t = layer(2, 4, vec![true, false, false, false, true, false, true, true]);
    assert!((ch3_l3p(&t)[2] - 0.5f32.sqrt()).abs() < 1e-6);
    assert!((ch3_l3n(&t)[2] - 1.5).abs() < 1e-6);
}

#[test]
fn chain_removal_drops_dangling_neurons() {
    // fc0: 2 inputs -> 3 hidden; fc1: 3 hidden -> 2 outputs. Hidden 1 has inputs but no outputs, hidden
    // 2 has outputs but no inputs.
    let mut layers = vec![
        layer(3, 2, vec![true, false, true, true, false, false]),
        layer(2, 3, vec![true, false, true, false, false, false]),
    ];
    let removed = chain_removal(&mut layers);
    assert_eq!(removed[0], vec![2, 3], "hidden 1's incoming links");
    assert_eq!(removed[1], vec![2], "hidden 2's outgoing link");
    assert_eq!(layers[0].mask, vec![true, false, false, false, false, false]);
    assert_eq!(layers[1].mask, vec![true, false, false, false, false, false]);
}
