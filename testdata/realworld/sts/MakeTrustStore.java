// MakeTrustStore writes a JDK trust store from PEM certificates, as Debian's
// ca-certificates-java builds /etc/ssl/certs/java/cacerts from the
// ca-certificates package: one trusted-certificate entry per file, aliased
// "debian:FILE", in a JKS store with the JDK's default password.
//
// Usage: java MakeTrustStore.java OUT PASSWORD CERT.crt...
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

public class MakeTrustStore {
    public static void main(String[] args) throws Exception {
        KeyStore ks = KeyStore.getInstance("JKS");
        ks.load(null, null);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        for (int i = 2; i < args.length; i++) {
            try (InputStream in = new FileInputStream(args[i])) {
                Certificate c = cf.generateCertificate(in);
                String name = Path.of(args[i]).getFileName().toString().replaceAll("\\.crt$", ".pem");
                ks.setCertificateEntry("debian:" + name.toLowerCase(), c);
            }
        }
        try (FileOutputStream out = new FileOutputStream(args[0])) {
            ks.store(out, args[1].toCharArray());
        }
    }
}
