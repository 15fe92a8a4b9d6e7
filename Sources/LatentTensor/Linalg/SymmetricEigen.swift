import CBLAS

/// Eigen-decomposition of a real symmetric matrix through LAPACK `dsyevd` (in Double, because
/// directions such as SeFa's and GANSpace's are eigenvectors of Gram/covariance matrices whose
/// small eigenvalues float32 would blur).
///
/// - Parameter matrix: `[n, n]` symmetric, row-major (only the upper triangle is read).
/// - Returns: eigenvalues in **descending** order and the matching unit eigenvectors as rows
///   `[n, n]` (row i belongs to eigenvalue i). Each eigenvector's sign is fixed so that its
///   largest-magnitude component is positive, making results reproducible across LAPACK builds.
public func symmetricEigen(_ matrix: [Double], n: Int) throws -> (values: [Double], vectors: [[Double]]) {
    precondition(matrix.count == n * n, "symmetricEigen: \(matrix.count) elements for n = \(n)")
    guard n > 0 else { return ([], []) }
    BLASKernels.prepare()
    // Row-major symmetric == column-major symmetric, so the buffer can go to LAPACK as is.
    var a = matrix
    var w = [Double](repeating: 0, count: n)
    var nn = Int32(n), lda = Int32(n), info: Int32 = 0
    var lwork: Int32 = -1, liwork: Int32 = -1
    var wq = [Double](repeating: 0, count: 1)
    var iwq = [Int32](repeating: 0, count: 1)
    let jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "L"))
    var jz = jobz, ul = uplo
    dsyevd_(&jz, &ul, &nn, &a, &lda, &w, &wq, &lwork, &iwq, &liwork, &info)   // workspace query
    lwork = Int32(wq[0]); liwork = iwq[0]
    var work = [Double](repeating: 0, count: Int(lwork))
    var iwork = [Int32](repeating: 0, count: Int(liwork))
    dsyevd_(&jz, &ul, &nn, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
    guard info == 0 else { throw LinalgError("dsyevd failed (info \(info)) for a \(n)×\(n) matrix") }
    // LAPACK returns ascending eigenvalues with eigenvectors in the columns (column-major):
    // column j of the column-major result = elements a[j*n ..< (j+1)*n].
    var values: [Double] = []
    var vectors: [[Double]] = []
    for j in stride(from: n - 1, through: 0, by: -1) {
        var v = Array(a[j * n ..< (j + 1) * n])
        if let m = v.max(by: { abs($0) < abs($1) }), m < 0 { v = v.map { -$0 } }
        values.append(w[j])
        vectors.append(v)
    }
    return (values, vectors)
}

/// An error from a linear-algebra routine.
public struct LinalgError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
