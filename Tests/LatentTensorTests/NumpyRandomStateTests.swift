import XCTest
import LatentTensor

/// Expected values computed offline with numpy 2.4.6 (`np.random.RandomState(seed)`), full
/// double precision; the generator must reproduce them bit for bit.
final class NumpyRandomStateTests: XCTestCase {
    func testRawMT19937Outputs() {
        // np.random.RandomState(5489).randint(0, 2**32, size=2, dtype=np.uint32): the MT19937
        // reference sequence.
        var a = NumpyRandomState(seed: 5489)
        XCTAssertEqual(a.nextUInt32(), 3_499_211_612)
        XCTAssertEqual(a.nextUInt32(), 581_869_302)
        var b = NumpyRandomState(seed: 123)
        XCTAssertEqual([b.nextUInt32(), b.nextUInt32(), b.nextUInt32()], [2_991_312_382, 3_062_119_789, 1_228_959_102])
        var c = NumpyRandomState(seed: 123)
        XCTAssertEqual(c.nextDouble(), 0.6964691855978616)   // random_sample()
    }

    func testRandnMatchesNumpy() {
        var s0 = NumpyRandomState(seed: 0)
        let v0 = s0.randn(count: 512)
        XCTAssertEqual(Array(v0[0..<6]), [1.764052345967664, 0.4001572083672233, 0.9787379841057392,
                                          2.240893199201458, 1.8675579901499675, -0.977277879876411])
        XCTAssertEqual(v0[255], 0.6947491436560059)
        XCTAssertEqual(v0[511], 1.3749640663929898)   // many rejections and cached pairs later
        var s3 = NumpyRandomState(seed: 3)
        XCTAssertEqual(s3.randn(count: 4), [1.7886284734303186, 0.43650985051198943, 0.09649746807200862, -1.8634927033644908])
        var sMax = NumpyRandomState(seed: 4_294_967_295)
        XCTAssertEqual(sMax.randn(count: 5), [0.6484086742306527, 0.6693235306338161, -1.0805437227474493,
                                              0.2845010447986309, 0.11388773652167104])
        var s7 = NumpyRandomState(seed: 7)
        let v7 = s7.randn(count: 64)
        XCTAssertEqual(v7[62], -0.0996106318948645)
        XCTAssertEqual(v7[63], 1.6995372967466809)
    }

    func testZFromSeedIsFloat32OfRandn() {
        let z = zFromSeed(0, zDim: 512)
        XCTAssertEqual(z.shape, [1, 512])
        XCTAssertEqual(z[0, 0], Float(1.764052345967664))
        XCTAssertEqual(z[0, 511], Float(1.3749640663929898))
    }
}
